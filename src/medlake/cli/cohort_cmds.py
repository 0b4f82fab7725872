"""Cohort, OMOP and search commands: ``cohort run|save|list|describe|sql|conformance``,
``omop import``, ``search notes|index``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from medlake.cli.common import DataDirOption, JsonOption, print_json, settings_for

DefArg = Annotated[Path, typer.Argument(help="cohort definition: medlake JSON or OHDSI Circe (ATLAS) JSON")]
CohortIdOption = Annotated[
    int | None,
    typer.Option("--cohort-id", help="cohort_definition_id to write (default: derived from the name)"),
]


def register(app: typer.Typer) -> None:
    cohort = typer.Typer(
        help="Cohorts: run medlake or ATLAS definitions on the lake, with attrition.", no_args_is_help=True
    )
    cohort.command("run")(cohort_run)
    cohort.command("save")(cohort_save)
    cohort.command("list")(cohort_list)
    cohort.command("describe")(cohort_describe)
    cohort.command("sql")(cohort_sql)
    cohort.command("conformance")(cohort_conformance)
    app.add_typer(cohort, name="cohort")
    omop = typer.Typer(help="OMOP CDM interoperability.", no_args_is_help=True)
    omop.command("import")(omop_import)
    app.add_typer(omop, name="omop")
    search = typer.Typer(
        help="Full-text search over clinical notes (Chinese bigram index).", no_args_is_help=True
    )
    search.command("notes")(search_notes_cmd)
    search.command("index")(search_index_cmd)
    app.add_typer(search, name="search")


def cohort_run(
    definition: DefArg,
    data_dir: DataDirOption = None,
    json_out: JsonOption = False,
    cohort_id: CohortIdOption = None,
    no_save: Annotated[bool, typer.Option("--no-save", help="do not write the cohort table")] = False,
) -> None:
    """Run a cohort definition; print persons, entries and persons passing each inclusion rule."""
    from medlake.cdm.lake import Lake
    from medlake.cohort.service import load_file, run_cohort

    settings = settings_for(data_dir)
    loaded = load_file(definition, cohort_id=cohort_id)
    result = run_cohort(Lake(settings.data_dir), loaded, save=not no_save)
    summary = result.summary()
    if json_out:
        print_json({"name": loaded.name, "kind": loaded.kind, **summary})
        return
    console = Console()
    console.print(
        f"cohort {loaded.name} ({loaded.kind}, id {loaded.cohort_definition_id}): "
        f"{result.persons:,} persons, {result.entries:,} entries "
        f"(from {result.qualified_persons:,} persons at entry) in {result.timing_ms['total']:.0f} ms"
    )
    if result.rules:
        tab = Table("#", "inclusion rule", "persons passed", "persons remaining", "events remaining")
        for i, r in enumerate(result.rules, 1):
            tab.add_row(
                str(i), r.name, f"{r.persons_passed:,}", f"{r.persons_remaining:,}", f"{r.events_remaining:,}"
            )
        console.print(tab)


def cohort_save(definition: DefArg, data_dir: DataDirOption = None) -> None:
    """Store a medlake definition (versioned) in the data dir."""
    from medlake.cdm.lake import Lake
    from medlake.cohort.model import load_definition
    from medlake.cohort.service import save_definition

    settings = settings_for(data_dir)
    path = save_definition(Lake(settings.data_dir), load_definition(definition))
    typer.echo(f"saved {path}")


def cohort_list(data_dir: DataDirOption = None, json_out: JsonOption = False) -> None:
    """Saved definitions and the last run of each cohort."""
    from medlake.cdm.lake import Lake
    from medlake.cohort.service import list_cohorts

    items = list_cohorts(Lake(settings_for(data_dir).data_dir))
    if json_out:
        print_json(items)
        return
    tab = Table("cohort", "versions", "last run", "persons", "entries")
    for it in items:
        run = it.get("last_run") or {}
        tab.add_row(
            it["id"],
            ",".join(map(str, it["versions"])),
            str(run.get("ran_at", "")),
            str(run.get("persons", "")),
            str(run.get("entries", "")),
        )
    Console().print(tab)


def cohort_describe(
    cohort_id: Annotated[int, typer.Argument(help="cohort_definition_id of a cohort that has been run")],
    data_dir: DataDirOption = None,
    json_out: JsonOption = False,
) -> None:
    """Characteristics of a cohort: age, sex, top diagnoses, labs and drugs (small cells hidden)."""
    from medlake.cdm.lake import Lake
    from medlake.cohort.service import characteristics

    out = characteristics(Lake(settings_for(data_dir).data_dir), cohort_id)
    if json_out:
        print_json(out)
        return
    console = Console()
    console.print(f"cohort {cohort_id}: {out['persons']:,} persons")
    for key in ("sex", "age_bands", "top_diagnoses", "top_labs", "top_drugs"):
        console.print(
            f"[bold]{key}[/]: "
            + ", ".join(
                f"{i.get('label', i.get('sex', i.get('band')))}={i['persons'] if i['persons'] is not None else '<' + str(out['min_cell'])}"
                for i in out[key]
            )
        )


def cohort_sql(
    definition: DefArg,
    dialect: Annotated[str, typer.Option("--dialect", help="duckdb or postgres")] = "duckdb",
) -> None:
    """Print the SQL a definition compiles to (values bound as literals)."""
    from medlake.cohort.compiler import compile_expression
    from medlake.cohort.service import load_file

    for stmt in compile_expression(load_file(definition).expression).sql(dialect):
        typer.echo(stmt + ";")


def cohort_conformance(
    fixtures: Annotated[Path, typer.Argument(help="the circe-be fixtures folder (cohortgeneration)")],
    json_out: JsonOption = False,
) -> None:
    """Run the OHDSI circe-be cohort-generation conformance fixtures and report pass counts."""
    from medlake.cohort.circe.conformance import run_all

    results = run_all(fixtures)
    if json_out:
        print_json([r.__dict__ for r in results])
        return
    tab = Table("group", "case", "cohorts passed", "result")
    for r in results:
        tab.add_row(
            r.group,
            r.name,
            f"{r.cohorts_passed}/{r.cohorts_total}",
            "pass" if r.passed else "FAIL " + r.detail[:80],
        )
    Console().print(tab)
    typer.echo(f"{sum(r.passed for r in results)}/{len(results)} cases pass")


def omop_import(
    source: Annotated[Path, typer.Argument(help="OMOP CDM as a DuckDB file or a folder of CSV files")],
    data_dir: DataDirOption = None,
    json_out: JsonOption = False,
) -> None:
    """Bring an existing OMOP CDM into the lake (columns lower-cased, cast to the lake schema)."""
    from medlake.cdm.lake import Lake
    from medlake.omop.importer import import_omop

    console = Console(stderr=True)
    report = import_omop(
        source,
        Lake(settings_for(data_dir).data_dir),
        progress=None if json_out else lambda t, n: console.print(f"  {t}: {n:,} rows"),
    )
    if json_out:
        print_json(report.as_dict())
        return
    for note in report.notices:
        console.print(f"[yellow]notice[/]: {note}")
    typer.echo(
        f"imported {sum(report.tables.values()):,} rows into {len(report.tables)} tables; "
        f"{len(report.skipped)} source tables skipped"
    )


def search_notes_cmd(
    query: Annotated[str, typer.Argument(help='e.g. 肺转移 NOT 未见, "HER2 阳性" OR 三阳性')],
    data_dir: DataDirOption = None,
    json_out: JsonOption = False,
    limit: Annotated[int, typer.Option("--limit", "-n")] = 20,
    offset: Annotated[int, typer.Option("--offset")] = 0,
) -> None:
    """Search note text: phrases, AND / OR / NOT, highlighted snippets."""
    from medlake.cdm.lake import Lake
    from medlake.search.searcher import search_notes

    result = search_notes(Lake(settings_for(data_dir).data_dir), query, limit=limit, offset=offset)
    if json_out:
        print_json(result.as_dict())
        return
    console = Console()
    console.print(f"{result.total:,} notes match ({result.took_ms:.0f} ms)")
    for h in result.hits:
        snippet = h.snippet.replace("<mark>", "[bold red]").replace("</mark>", "[/]")
        console.print(
            f"[cyan]{h.note_date}[/] note {h.note_id} person {h.person_id} {h.doc_type or ''}: {snippet}"
        )


def search_index_cmd(data_dir: DataDirOption = None, json_out: JsonOption = False) -> None:
    """Bring the note search index up to date with the lake (incremental, per note part)."""
    from medlake.cdm.lake import Lake
    from medlake.search.index import update_index

    up = update_index(Lake(settings_for(data_dir).data_dir))
    out = {"built": up.built, "removed": up.removed, "unchanged": up.unchanged}
    if json_out:
        print_json(out)
    else:
        typer.echo(f"index: {len(up.built)} parts built, {len(up.removed)} removed, {up.unchanged} unchanged")
