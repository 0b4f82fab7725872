"""docs/cli.md is generated from the commands' help and must not drift from it."""

from __future__ import annotations

from pathlib import Path

from medlake.cli import get_app
from medlake.cli.reference import render

DOC = Path(__file__).resolve().parents[1] / "docs" / "cli.md"


def test_cli_reference_is_current() -> None:
    assert DOC.read_text(encoding="utf-8") == render(get_app()), (
        "docs/cli.md is stale: run `.venv/bin/python -m medlake.cli.reference > docs/cli.md`"
    )


def test_every_feature_has_its_verbs() -> None:
    text = render(get_app())
    for verb in [
        "medlake ingest",
        "medlake synth",
        "medlake stats",
        "medlake vocab load",
        "medlake serve",
        "medlake audit verify",
        "medlake mpi eval",
        "medlake nlp train",
        "medlake cohort run",
        "medlake export request",
        "medlake model train",
        "medlake demo",
    ]:
        assert f"## `{verb}`" in text, verb
