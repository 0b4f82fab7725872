"""Clinical patterns: what happens to each synthetic patient (visits, codes, labs, operations, outcomes)."""

from __future__ import annotations

from collections.abc import Callable

from medlake.synth.clinical.base import Counters, StoryBuilder
from medlake.synth.clinical.burns import burn
from medlake.synth.clinical.common import diabetes, hypertension, ordinary
from medlake.synth.clinical.oncology import breast_cancer, cervical_cancer
from medlake.synth.clinical.tapvc import tapvc

STORIES: dict[str, Callable[[StoryBuilder], None]] = {
    "tapvc": tapvc,
    "burn": burn,
    "breast_cancer": breast_cancer,
    "cervical_cancer": cervical_cancer,
    "diabetes": diabetes,
    "hypertension": hypertension,
    "ordinary": ordinary,
}

__all__ = ["STORIES", "Counters", "StoryBuilder"]
