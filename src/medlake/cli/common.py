"""Options and helpers shared by every command module: the settings, the data dir, JSON output."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from medlake.settings import Settings

DataDirOption = Annotated[
    Path | None,
    typer.Option("--data-dir", "-d", help="medlake data dir (default: $MEDLAKE_DATA_DIR or ./medlake-data)"),
]
JsonOption = Annotated[bool, typer.Option("--json", help="print machine-readable JSON")]


def settings_for(data_dir: Path | None) -> Settings:
    return Settings().with_data_dir(data_dir)


def print_json(obj: Any) -> None:
    typer.echo(json.dumps(obj, ensure_ascii=False, indent=2, default=str))
