"""Chinese clinical NLP: entities, assertions (ConText), times, values and ICD-10 codes of notes.

Public API::

    annotate(text, doc_date, pipeline=None) -> list[Entity]   # one note, for pages and scripts
    Pipeline(PipelineConfig(model_dir, code_table, hospital_dict))   # build once, reuse
    crf.train / crf.CrfModel                                    # the trainable model (a directory)
    lake_run.run(lake, pipeline)                                # `medlake nlp run`

Nothing is loaded at import time; the default pipeline is built on first use.
"""

from __future__ import annotations

from datetime import date
from functools import lru_cache
from typing import TYPE_CHECKING

from medlake.nlp.types import ENTITY_TYPES, Entity, TimeExpr, Value

if TYPE_CHECKING:
    from medlake.nlp.pipeline import Pipeline

__all__ = ["ENTITY_TYPES", "Entity", "TimeExpr", "Value", "annotate", "default_pipeline"]


@lru_cache(maxsize=1)
def default_pipeline() -> Pipeline:
    """The dictionary + rules pipeline (built-in lexicon, PyCMeKG, ConText), built once."""
    from medlake.nlp.pipeline import Pipeline

    return Pipeline()


def annotate(text: str, doc_date: date | None = None, *, pipeline: Pipeline | None = None) -> list[Entity]:
    """Entities of ``text`` with offsets, type, assertion, time, value and code."""
    return (pipeline or default_pipeline()).annotate(text, doc_date)
