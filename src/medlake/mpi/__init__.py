"""Master patient index: link the source systems' patient ids to one person each.

``link`` scores pairs of ``source_person`` records with a Splink 5 model on DuckDB and clusters
them around HIS patients into ``person_link``; ``apply`` rewrites person ids in the clinical tables
so that the lake shows one person_id per real person; ``review_queue``/``decide`` handle the
uncertain pairs; ``evaluate`` scores the links against a truth file.
"""

from medlake.mpi.apply import ApplyResult, apply
from medlake.mpi.evaluate import Evaluation, evaluate
from medlake.mpi.link import LinkConfig, LinkResult, link, pair_id
from medlake.mpi.model import TrainingConfig
from medlake.mpi.review import decide, review_queue

__all__ = [
    "ApplyResult",
    "Evaluation",
    "LinkConfig",
    "LinkResult",
    "TrainingConfig",
    "apply",
    "decide",
    "evaluate",
    "link",
    "pair_id",
    "review_queue",
]
