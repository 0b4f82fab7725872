"""``medlake synth``: write a synthetic hospital (HIS, EMR, LIS, PACS, partner FHIR, gold, truth)."""

from __future__ import annotations

import time
from datetime import date, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from medlake.cli.common import JsonOption, print_json, settings_for
from medlake.errors import ValidationFailed


def _date(value: str, option: str) -> date:
    try:
        return datetime.strptime(value, "%Y-%m-%d").date()
    except ValueError as exc:
        raise ValidationFailed(f"{option} must be YYYY-MM-DD, not {value!r}") from exc


def synth(
    patients: Annotated[int, typer.Option("--patients", "-n", help="number of patients")] = 1000,
    seed: Annotated[
        int, typer.Option("--seed", "-s", help="random seed (same seed and N: identical output)")
    ] = 42,
    out: Annotated[Path, typer.Option("--out", "-o", help="output directory")] = Path("synthetic-hospital"),
    start_date: Annotated[
        str, typer.Option("--start-date", help="first day of care (YYYY-MM-DD)")
    ] = "2018-01-01",
    end_date: Annotated[str, typer.Option("--end-date", help="last day of care (YYYY-MM-DD)")] = "2025-12-31",
    max_dicom_files: Annotated[
        int | None, typer.Option("--max-dicom-files", help="cap on DICOM files (default: N/6, at most 2000)")
    ] = None,
    xlsx_engine: Annotated[
        str,
        typer.Option(
            "--xlsx-engine", help="drug-order workbook writer: stream (fast, constant memory) or openpyxl"
        ),
    ] = "stream",
    workers: Annotated[
        int | None,
        typer.Option("--workers", "-w", help="worker processes (default: $MEDLAKE_WORKERS, 0 = all cores)"),
    ] = None,
    json_out: JsonOption = False,
) -> None:
    """Generate a synthetic hospital in native source formats (see docs/sources.md)."""
    from medlake.synth import SynthConfig, generate

    config = SynthConfig(
        patients=patients,
        seed=seed,
        out=out,
        start_date=_date(start_date, "--start-date"),
        end_date=_date(end_date, "--end-date"),
        max_dicom_files=max_dicom_files,
        xlsx_engine=xlsx_engine,
    )
    console = Console(stderr=True)
    t0 = time.perf_counter()
    with Progress(
        TextColumn("[bold]synth"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
        console=console, disable=json_out,
    ) as bar:  # fmt: skip
        task = bar.add_task("patients", total=patients)
        n_workers = workers if workers is not None else settings_for(None).workers
        summary = generate(config, progress=lambda n: bar.advance(task, n), workers=n_workers)
    elapsed = time.perf_counter() - t0
    result = summary.as_dict() | {"out": str(out), "seconds": round(elapsed, 2)}
    if json_out:
        print_json(result)
        return
    typer.echo(
        f"{summary.patients} patients → {out}: {summary.visits} visits, {summary.notes} notes, "
        f"{summary.lab_messages} lab messages in {summary.lis_files} HL7 files, {summary.dicom_files} DICOM files, "
        f"{summary.partner_bundles} partner bundles ({elapsed:.1f} s)"
    )


def register(app: typer.Typer) -> None:
    app.command("synth")(synth)
