"""The ``medlake`` command: one verb group per feature, each in its own module of this package.

Every command builds the one ``Settings`` object from the environment (``MEDLAKE_*``) plus its
``--data-dir`` option and passes it down. A ``MedlakeError`` is printed as one line with its code
and a hint, and the process exits with status 2.
"""

from __future__ import annotations

import importlib
import sys

import typer
from rich.console import Console

from medlake.errors import MedlakeError

app = typer.Typer(
    name="medlake",
    help="medlake — research data center for hospitals (lake, NLP, cohorts, exports, models).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)

# Feature modules; each defines ``register(app: typer.Typer) -> None``.
# Add one line per feature (keep the list sorted by feature).
COMMAND_MODULES = [
    "medlake.cli.cohort_cmds",
    "medlake.cli.demo_cmds",
    "medlake.cli.export_cmds",
    "medlake.cli.lake_cmds",
    "medlake.cli.model_cmds",
    "medlake.cli.mpi_cmds",
    "medlake.cli.nlp_cmds",
    "medlake.cli.synth_cmds",
    "medlake.cli.web_cmds",
]

_registered = False


def _register_all() -> None:
    global _registered
    if _registered:
        return
    for name in COMMAND_MODULES:
        module = importlib.import_module(name)
        module.register(app)
    _registered = True


def main(argv: list[str] | None = None) -> None:
    _register_all()
    err = Console(stderr=True)
    try:
        app(args=argv, standalone_mode=True)
    except MedlakeError as exc:
        err.print(f"[bold red]error[{exc.code}][/]: {exc.message}", highlight=False)
        if exc.hint:
            err.print(f"hint: {exc.hint}", highlight=False)
        sys.exit(2)


def get_app() -> typer.Typer:
    """The Typer app with every feature registered (for tests and doc generation)."""
    _register_all()
    return app
