"""Fixtures of the export tests: a tiny lake and an application store with users and a project."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from medlake.settings import Settings
from medlake.store import User, session_scope, upgrade
from medlake.store.engine import dispose_engine
from medlake.web.services.accounts import add_member, create_project
from tests.export.lakegen import write_lake


@pytest.fixture
def tiny_lake(data_dir: Path) -> Path:
    write_lake(data_dir, 60)
    return data_dir


def spec_dict(**over: object) -> dict[str, object]:
    """A dataset over the tiny lake: demographics, a diagnosis flag, HbA1c statistics, a drug count, notes."""
    base: dict[str, object] = {
        "name": "dm",
        "project": "p1",
        "cohort": {"kind": "filter"},
        "variables": [
            {"type": "demographic", "name": "age", "field": "age"},
            {"type": "demographic", "name": "sex", "field": "sex"},
            {"type": "demographic", "name": "city", "field": "city"},
            {
                "type": "condition",
                "name": "t2dm",
                "codes": ["E11"],
                "window": {"start_days": -3650, "end_days": 0},
            },
            {
                "type": "lab",
                "name": "hba1c",
                "codes": ["HBA1C"],
                "unit": "%",
                "window": {"start_days": -45, "end_days": 0},
            },
            {"type": "drug", "name": "metformin", "codes": ["MET500"], "output": "count"},
        ],
        "notes": {},
        "deid": {"k": 5},
    }
    base.update(over)
    return base


@pytest.fixture(scope="session")
def _store_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Built once: the tiny lake plus an application store with alice (researcher, member of p1), bob
    (researcher, not a member), sam (steward) and ada (admin). Passwords are not used by these tests."""
    root = tmp_path_factory.mktemp("export-template") / "medlake-data"
    write_lake(root, 60)
    settings = Settings(data_dir=root)
    upgrade(settings)
    with session_scope(settings) as session:
        for name, role in (
            ("alice", "researcher"),
            ("bob", "researcher"),
            ("sam", "steward"),
            ("ada", "admin"),
        ):
            session.add(User(username=name, role=role, password_hash="!unused"))
        session.flush()
        project = create_project(session, "p1", "Diabetes study")
        add_member(session, project, "alice")
    dispose_engine(settings)
    return root


@pytest.fixture
def store(_store_template: Path, tmp_path: Path) -> Iterator[Settings]:
    """A private copy of the template data dir (lake, store, audit head)."""
    root = tmp_path / "medlake-data"
    shutil.copytree(_store_template, root)
    settings = Settings(data_dir=root)
    yield settings
    dispose_engine(settings)
