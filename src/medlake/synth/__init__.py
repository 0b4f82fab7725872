"""The synthetic hospital: HIS, EMR, LIS, PACS and partner exports of made-up patients.

``generate(config)`` streams ``config.patients`` patients, in chunks, into the native formats
described in ``docs/sources.md`` plus gold annotations and ground truth. Same patients and seed
give byte-identical output.
"""

from __future__ import annotations

from medlake.synth.config import SynthConfig, SynthSummary
from medlake.synth.generator import generate

__all__ = ["SynthConfig", "SynthSummary", "generate"]
