"""`medlake audit verify` exits 1 and names the tampered row."""

from __future__ import annotations

from pathlib import Path

import typer
from sqlalchemy import text
from typer.testing import CliRunner

from medlake import audit
from medlake.cli import web_cmds
from medlake.settings import Settings
from medlake.store import session_scope, upgrade


def _cli() -> typer.Typer:
    app = typer.Typer()
    web_cmds.register(app)
    return app


def test_audit_verify_names_the_edited_row(tmp_path: Path) -> None:
    data_dir = tmp_path / "d"
    settings = Settings(data_dir=data_dir)
    upgrade(settings)
    for i in range(4):
        with session_scope(settings) as s:
            audit.append(s, "alice", "patient.view", f"person:{i}", {})
    runner = CliRunner()
    ok = runner.invoke(_cli(), ["audit", "verify", "--data-dir", str(data_dir)])
    assert ok.exit_code == 0, ok.output
    assert "4 entries" in ok.output
    with session_scope(settings) as s:
        s.execute(text("UPDATE audit_log SET object = 'person:999' WHERE seq = 2"))
    bad = runner.invoke(_cli(), ["audit", "verify", "--data-dir", str(data_dir)])
    assert bad.exit_code == 1
    assert "seq 2" in bad.output
    as_json = runner.invoke(_cli(), ["audit", "verify", "--json", "--data-dir", str(data_dir)])
    assert as_json.exit_code == 1 and '"broken_seq": 2' in as_json.output
