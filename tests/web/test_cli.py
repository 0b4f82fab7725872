"""The web platform's CLI: db upgrade, user add (password on stdin), project/member add, demo accounts."""

from __future__ import annotations

from pathlib import Path

import typer
from typer.testing import CliRunner

from medlake.cli import web_cmds
from medlake.settings import Settings
from medlake.store import current_revision, head_revision, session_scope
from medlake.web.passwords import verify_password
from medlake.web.services import accounts


def _cli() -> typer.Typer:
    app = typer.Typer()
    web_cmds.register(app)
    return app


def test_cli_commands(tmp_path: Path) -> None:
    d = str(tmp_path / "d")
    runner = CliRunner()
    r = runner.invoke(_cli(), ["db", "upgrade", "--data-dir", d])
    assert r.exit_code == 0, r.output
    assert current_revision(Settings(data_dir=Path(d))) == head_revision()
    r = runner.invoke(
        _cli(),
        ["user", "add", "boss", "--role", "admin", "--password-stdin", "--data-dir", d],
        input="a-long-password\n",
    )
    assert r.exit_code == 0, r.output
    r = runner.invoke(_cli(), ["project", "add", "diab", "--title", "Diabetes", "--data-dir", d])
    assert r.exit_code == 0, r.output
    r = runner.invoke(_cli(), ["member", "add", "diab", "boss", "--project-role", "owner", "--data-dir", d])
    assert r.exit_code == 0, r.output
    with session_scope(Settings(data_dir=Path(d))) as s:
        user = accounts.get_user(s, "boss")
        assert user is not None and user.role == "admin"
        assert verify_password(user.password_hash, "a-long-password")
        project = accounts.project_by_code(s, "diab")
        assert accounts.is_member(s, project.id, user.id)
    r = runner.invoke(
        _cli(),
        ["user", "add", "bad", "--role", "wizard", "--password-stdin", "--data-dir", d],
        input="a-long-password\n",
    )
    assert r.exit_code != 0
    r = runner.invoke(_cli(), ["audit", "verify", "--data-dir", d])
    assert r.exit_code == 0 and "3 entries" in r.output


def test_demo_accounts_prints_one_password_per_role(tmp_path: Path) -> None:
    d = str(tmp_path / "d")
    r = CliRunner().invoke(_cli(), ["demo-accounts", "--data-dir", d])
    assert r.exit_code == 0, r.output
    lines = dict(line.split("\t") for line in r.output.strip().splitlines())
    assert {"admin", "steward", "researcher", "clinician"} <= set(lines)
    assert len(set(lines.values())) == len(lines)  # random, distinct
    with session_scope(Settings(data_dir=Path(d))) as s:
        researcher = accounts.get_user(s, "researcher")
        assert researcher is not None and verify_password(researcher.password_hash, lines["researcher"])
        assert [p.code for p in accounts.projects_of(s, researcher.id)] == ["demo"]
