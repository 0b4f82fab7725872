"""``medlake demo``: the whole platform on a synthetic hospital, step by step, ending in the web UI.

Each step is the same ``medlake`` command a user would type, run as a child process so its own
progress and summary are shown; the demo prints what it is about to do before each step.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from medlake.cli.common import DataDirOption, settings_for

SHARED_ICD = Path(__file__).resolve().parents[3].parent / "shared" / "data" / "lexicons" / "ICD_10v601.csv"


def register(app: typer.Typer) -> None:
    app.command("demo")(demo)


def _step(console: Console, title: str, args: list[str], *, capture: bool = False) -> str:
    console.rule(f"[bold cyan]{title}")
    console.print(f"[dim]$ medlake {' '.join(args)}[/]")
    cmd = [sys.executable, "-m", "medlake.cli", *args]
    if capture:
        return subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    subprocess.run(cmd, check=True)
    return ""


def demo(
    patients: Annotated[int, typer.Option(help="patients in the synthetic hospital")] = 2000,
    seed: Annotated[int, typer.Option(help="seed of the synthetic hospital")] = 42,
    out: Annotated[Path, typer.Option(help="where the synthetic hospital's exports are written")] = Path(
        "demo-hospital"
    ),
    data_dir: DataDirOption = None,
    host: Annotated[str, typer.Option(help="address the web UI listens on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="port of the web UI")] = 8000,
    icd_table: Annotated[
        Path | None,
        typer.Option(help="ICD-10 code table to load (default: ../shared's ICD-10 北京临床版 if present)"),
    ] = None,
    serve: Annotated[bool, typer.Option("--serve/--no-serve", help="end by serving the web UI")] = True,
) -> None:
    """Synthesise a hospital, ingest every source, link patients, run NLP, create demo accounts, serve."""
    console = Console()
    settings = settings_for(data_dir)
    d = str(settings.data_dir)
    marker = out / ".medlake-synth.json"
    wanted = {"patients": patients, "seed": seed}
    if not (marker.exists() and json.loads(marker.read_text()) == wanted):
        _step(
            console,
            f"1/6 synthesise a {patients:,}-patient hospital",
            ["synth", "--patients", str(patients), "--seed", str(seed), "--out", str(out)],
        )
        marker.write_text(json.dumps(wanted))
    else:
        console.rule("[bold cyan]1/6 synthetic hospital already at " + str(out))
    table = icd_table or (SHARED_ICD if SHARED_ICD.exists() else None)
    if table is not None:
        _step(
            console,
            "2/6 load the ICD-10 code table",
            ["vocab", "load", str(table), "--vocabulary", "ICD10CN", "--data-dir", d],
        )
    else:
        console.rule(
            "[bold cyan]2/6 no ICD-10 table given: codes are registered from the HIS names as they arrive"
        )
    _step(
        console,
        "3/6 ingest HIS, EMR, LIS, PACS and partner FHIR (and link patients)",
        ["ingest", str(out), "--data-dir", d],
    )
    _step(console, "4/6 Chinese clinical NLP over the notes", ["nlp", "run", "--data-dir", d])
    accounts = _step(console, "5/6 demo accounts", ["demo-accounts", "--data-dir", d], capture=True)
    stats = json.loads(
        _step(console, "6/6 what the lake holds", ["stats", "--data-dir", d, "--json"], capture=True)
    )
    t = stats["tables"]
    console.print(
        f"persons {t['person']:,} · visits {t['visit_occurrence']:,} · diagnoses {t['condition_occurrence']:,} · "
        f"labs {t['measurement']:,} · drugs {t['drug_exposure']:,} · notes {t['note']:,} · "
        f"NLP entities {t['note_nlp']:,} · images {t['image_occurrence']:,} · quarantined {stats['quarantine']:,}"
    )
    console.rule("[bold green]demo logins")
    for line in accounts.strip().splitlines():
        user, _, password = line.partition("\t")
        console.print(f"  {user:<12} {password}")
    console.print(
        "\nnext: open the UI, search a cohort (`medlake cohort run ...`), try `medlake search notes 转移 "
        f"--data-dir {d}`, or train a model (`medlake model train --help`)."
    )
    if serve:
        console.rule(f"[bold green]web UI at http://{host}:{port} (Ctrl-C to stop)")
        try:
            subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "medlake.cli",
                    "serve",
                    "--data-dir",
                    d,
                    "--host",
                    host,
                    "--port",
                    str(port),
                ],
                check=True,
            )
        except KeyboardInterrupt:
            console.print("stopped")
