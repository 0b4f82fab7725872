"""Lake commands: ``ingest``, ``stats``, ``vocab load``, ``config``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from medlake.cli.common import DataDirOption, JsonOption, print_json, settings_for


def register(app: typer.Typer) -> None:
    app.command("ingest")(ingest)
    app.command("stats")(stats)
    app.command("config")(config)
    vocab = typer.Typer(help="Vocabularies: local Chinese code tables as concepts (ids >= 2,000,000,000).")
    vocab.command("load")(vocab_load)
    app.add_typer(vocab, name="vocab")


def ingest(
    source: Annotated[
        Path, typer.Argument(help="folder (or file) of source exports; kinds detected by content")
    ],
    data_dir: DataDirOption = None,
    json_out: JsonOption = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="no progress bar")] = False,
    no_link: Annotated[
        bool, typer.Option("--no-link", help="skip master-patient-index linkage of new source patients")
    ] = False,
) -> None:
    """Capture, parse and land every source file under SOURCE; bad records are quarantined.

    New source patients are linked to persons by the master patient index at the end of the run."""
    from medlake.cdm.lake import Lake
    from medlake.ingest.runner import ingest_path

    settings = settings_for(data_dir)
    lake = Lake(settings.data_dir)
    report = ingest_path(lake, source, show_progress=not quiet and not json_out, link_persons=not no_link)
    failed = [f for f in report.files if f.status == "failed"]
    if json_out:
        print_json(report.to_json())
    else:
        console = Console()
        t = report.totals()
        console.print(
            f"run {report.run_id}: {t.get('files_new', 0)} new, {t.get('files_changed', 0)} changed, "
            f"{t.get('files_unchanged', 0)} unchanged, {t.get('files_unrecognised', 0)} unrecognised files; "
            f"{t.get('rows_written', 0):,} rows written, {t.get('rows_quarantined', 0):,} quarantined "
            f"in {report.seconds:.1f} s"
        )
        by_table: dict[str, int] = {}
        for f in report.files:
            for k, v in f.written.items():
                by_table[k] = by_table.get(k, 0) + v
        if by_table:
            tab = Table("table", "rows written")
            for k in sorted(by_table):
                if not k.startswith("_"):
                    tab.add_row(k, f"{by_table[k]:,}")
            console.print(tab)
        if report.linkage:
            link = report.linkage.get("link", {})
            if isinstance(link, dict):
                console.print(
                    f"patients linked: {link.get('records', 0):,} source patients → {link.get('persons', 0):,} persons, "
                    f"{link.get('review_pairs', 0):,} pairs to review (`medlake mpi review`)"
                )
        for f in failed:
            console.print(f"[red]failed[/] {f.path}: {f.error}")
        console.print(f"report: {lake.root / 'runs' / (report.run_id + '.json')}")
    if failed:
        raise typer.Exit(1)


def stats(data_dir: DataDirOption = None, json_out: JsonOption = False) -> None:
    """Row counts of every lake table and of the quarantine."""
    from medlake.cdm.lake import Lake
    from medlake.cdm.schema import cdm_tables

    settings = settings_for(data_dir)
    lake = Lake(settings.data_dir)
    counts = {name: lake.count(name) for name in cdm_tables()}
    out = {"tables": counts, "quarantine": lake.count("_quarantine"), "raw_files": lake.count("_raw_file")}
    if json_out:
        print_json(out)
        return
    tab = Table("table", "rows")
    for k, v in counts.items():
        tab.add_row(k, f"{v:,}")
    tab.add_row("[dim]quarantine[/]", f"{out['quarantine']:,}")
    Console().print(tab)


def config(data_dir: DataDirOption = None) -> None:
    """Print the effective settings (secrets masked)."""
    print_json(settings_for(data_dir).masked())


def vocab_load(
    path: Annotated[Path, typer.Argument(help="code table: CSV/TSV with a header; code, name")],
    vocabulary: Annotated[
        str, typer.Option("--vocabulary", "-v", help="vocabulary id, e.g. ICD10CN")
    ] = "ICD10CN",
    domain: Annotated[str, typer.Option(help="OMOP domain of the codes")] = "Condition",
    concept_class: Annotated[str, typer.Option("--class", help="concept class")] = "Diagnosis",
    name: Annotated[str | None, typer.Option(help="vocabulary name")] = None,
    data_dir: DataDirOption = None,
    json_out: JsonOption = False,
) -> None:
    """Load a local code table (e.g. ICD-10 北京临床版) as concepts with its hierarchy."""
    from medlake.cdm.lake import Lake
    from medlake.cdm.vocab import load_code_table

    settings = settings_for(data_dir)
    result = load_code_table(
        Lake(settings.data_dir),
        path,
        vocabulary=vocabulary,
        domain=domain,
        concept_class=concept_class,
        name=name,
    )
    if json_out:
        print_json(result)
    else:
        typer.echo(
            f"{vocabulary}: {result['concepts']:,} concepts ({result['new']:,} new), "
            f"{result['relationships']:,} parent links, {result['ancestors']:,} ancestor rows"
        )
