"""Stream patients through the clinical patterns and the source writers, one chunk at a time.

A chunk (``config.chunk_size`` patients) is built independently of every other chunk: its demographics
are drawn with numpy from (seed, chunk), each patient's story from a ``random.Random`` seeded by
(seed, patient index), and its numbers (visits, orders, specimens, accessions, documents) from
a range reserved for the chunk. Chunks can therefore be built in worker processes and are
appended to the output files in chunk order: same ``patients`` and ``seed`` give byte-identical
output whatever the number of workers.
"""

from __future__ import annotations

import multiprocessing
import os
import random
import shutil
from collections import Counter, deque
from collections.abc import Callable, Iterator
from multiprocessing.pool import AsyncResult
from pathlib import Path

from medlake.errors import DataDirError
from medlake.synth.clinical import STORIES, Counters, StoryBuilder
from medlake.synth.config import SynthConfig, SynthSummary
from medlake.synth.identity import system_identity
from medlake.synth.model import Patient
from medlake.synth.notes import compose_notes
from medlake.synth.people import make_people
from medlake.synth.vocab import load_vocab
from medlake.synth.writers.chunk import ChunkBuffers, ChunkOutput
from medlake.synth.writers.emr import add_notes
from medlake.synth.writers.fhir import FhirWriter
from medlake.synth.writers.files import OutputFiles
from medlake.synth.writers.his import add_his
from medlake.synth.writers.lis import add_lis
from medlake.synth.writers.pacs import PacsWriter
from medlake.synth.writers.truth import add_truth
from medlake.synth.writers.xlsx import render_rows

Progress = Callable[[int], None]
_OUTPUT_DIRS = ("his", "emr", "lis", "pacs", "partner", "gold", "truth")
#: Imaging studies per patient and files per study, roughly; used to spread the DICOM cap.
_STUDIES_PER_PATIENT = 0.9
_FILES_PER_STUDY = 2.2
#: Numbers reserved per chunk for every counter (visits, orders, ... never reach it).
_CHUNK_RANGE = 1_000_000


def _prepare(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    if not out.is_dir():
        raise DataDirError(f"{out} is not a directory")
    for name in _OUTPUT_DIRS:
        if (out / name).exists():
            shutil.rmtree(out / name)


def _dicom_budget(config: SynthConfig, chunk: int) -> int:
    """This chunk's share of the DICOM cap (shares differ by at most one file, sum to the cap)."""
    chunks = -(-config.patients // config.chunk_size)
    base, extra = divmod(config.dicom_cap, chunks)
    return base + (1 if chunk < extra else 0)


def build_chunk(config: SynthConfig, chunk: int) -> ChunkOutput:
    """Generate one chunk of patients; DICOM and partner files are written directly (unique names)."""
    vocab = load_vocab()
    first = chunk * config.chunk_size
    n = min(config.chunk_size, config.patients - first)
    base = chunk * _CHUNK_RANGE
    counters = Counters(base, base, base, base, base, base, base, base)
    budget = _dicom_budget(config, chunk)
    dicom_p = min(1.0, 1.3 * budget / max(1.0, n * _STUDIES_PER_PATIENT * _FILES_PER_STUDY))
    pacs = PacsWriter(config.out, vocab, budget, config.seed)
    fhir = FhirWriter(config.out, config.seed)
    buffers = ChunkBuffers()
    result = ChunkOutput(chunk, n)
    weeks: dict[str, list[str]] = {}
    counts: Counter[str] = result.counts
    people = make_people(vocab, config.seed, chunk, first, n, config.start_date, config.end_date)
    for person in people:
        rng = random.Random(config.seed * 1_000_003 + person.idx)
        patient = Patient(person)
        STORIES[person.pattern](StoryBuilder(vocab, rng, counters, patient, config.seed, dicom_p))
        patient.notes = compose_notes(patient, vocab, rng, counters)
        systems = [("HIS", person.his_id)]
        add_his(patient, counters, buffers, result.order_rows)
        counts["notes"] += add_notes(patient, buffers)
        if any(v.labs for v in patient.visits):
            person.lis = system_identity(vocab, person, "LIS", config.seed, rng)
            omit = {v.visit_no for v in patient.visits if rng.random() < 0.05}
            counts["lab_results"] += add_lis(vocab, patient, person.lis, omit, weeks)
            systems.append(("LIS", person.lis.local_id))
        studies = [(v.visit_no, s) for v in patient.visits for s in v.imaging if s.write_dicom]
        if studies:
            person.pacs = system_identity(vocab, person, "PACS", config.seed, rng)
            if sum(pacs.add(person.pacs, s, vno) for vno, s in studies):
                systems.append(("PACS", person.pacs.local_id))
        if rng.random() < config.partner_fraction:
            person.partner = system_identity(vocab, person, "PARTNER", config.seed, rng)
            fhir.add(patient, person.partner, rng)
            systems.append(("PARTNER", person.partner.local_id))
        add_truth(patient, systems, buffers)
        for v in patient.visits:
            counts["visits"] += 1
            counts["diagnoses"] += len(v.diagnoses)
            counts["drug_admins"] += sum(len(o.admin_times) for o in v.orders)
            counts["operations"] += len(v.operations)
            counts["imaging_studies"] += len(v.imaging)
            counts["lab_messages"] += len(v.labs)
    result.texts = buffers.texts()
    result.order_count = counts["drug_orders"] = len(result.order_rows)
    if config.xlsx_engine == "stream":
        result.order_xml = render_rows(result.order_rows)
        result.order_rows = []
    result.lis_weeks = {wk: ("".join(msgs), len(msgs)) for wk, msgs in weeks.items()}
    counts["dicom_files"] += pacs.files
    counts["partner_bundles"] += fhir.count
    return result


def _chunks(config: SynthConfig, workers: int) -> Iterator[ChunkOutput]:
    """Chunk outputs in chunk order; with workers, at most ``2 * workers`` chunks are in flight
    (built or waiting to be written), so memory stays bounded whatever the number of patients."""
    total = -(-config.patients // config.chunk_size)
    if workers <= 1 or total == 1:
        for i in range(total):
            yield build_chunk(config, i)
        return
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(min(workers, total)) as pool:
        pending: deque[AsyncResult[ChunkOutput]] = deque()
        submitted = 0
        while submitted < total or pending:
            while submitted < total and len(pending) < 2 * workers:
                pending.append(pool.apply_async(build_chunk, (config, submitted)))
                submitted += 1
            yield pending.popleft().get()


def effective_workers(requested: int) -> int:
    """``0`` means one worker per core (at least 1)."""
    return requested if requested > 0 else max(1, os.cpu_count() or 1)


def generate(config: SynthConfig, progress: Progress | None = None, workers: int = 1) -> SynthSummary:
    """Write the synthetic hospital to ``config.out``; ``progress(n)`` is called after each chunk."""
    vocab = load_vocab()
    _prepare(config.out)
    files = OutputFiles(config.out, vocab, config.xlsx_engine)
    totals: Counter[str] = Counter()
    for chunk in _chunks(config, effective_workers(workers)):
        files.append(chunk)
        totals.update(chunk.counts)
        if progress is not None:
            progress(chunk.patients)
    books, lis_files = files.close()
    summary = SynthSummary(patients=config.patients, lis_files=lis_files, files={"xlsx": len(books)})
    for key, value in totals.items():
        setattr(summary, key, value)
    return summary
