"""The request workflow: roles, self-approval refused, audited transitions, requester-only download, expiry."""

from __future__ import annotations

import json
import zipfile
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from medlake import audit
from medlake.errors import ExportExpired, ExportStateError, PermissionDenied, ValidationFailed
from medlake.export.catalog import DatasetCatalog
from medlake.export.spec import DatasetSpec
from medlake.export.workflow import CURRENT_DUA, ExportWorkflow, dua_text
from medlake.settings import Settings
from medlake.store import AuditEntry, session_scope
from medlake.store.models import utcnow
from tests.export.conftest import spec_dict


def _request(settings: Settings, user: str = "alice", **over: object) -> int:
    saved = DatasetCatalog(settings.data_dir).save(DatasetSpec.model_validate(spec_dict()))
    kwargs: dict[str, object] = {
        "purpose": "HbA1c trajectories in type 2 diabetes",
        "fields": [],
        "dua_version": CURRENT_DUA,
        "accept_dua": True,
        "formats": ["parquet", "csv"],
    }
    kwargs.update(over)
    with session_scope(settings) as s:
        return ExportWorkflow(s, settings).request(user, saved, **kwargs).id  # type: ignore[arg-type]


def _actions(settings: Settings) -> list[tuple[str, str, str]]:
    with session_scope(settings) as s:
        return [
            (e.actor, e.action, e.object)
            for e in s.execute(select(AuditEntry).order_by(AuditEntry.seq)).scalars()
        ]


def test_full_flow_audited(store: Settings, tmp_path: Path) -> None:
    rid = _request(store)
    with session_scope(store) as s, pytest.raises(PermissionDenied, match="not a data steward"):
        ExportWorkflow(s, store).approve(rid, "alice")
    with session_scope(store) as s:
        ExportWorkflow(s, store).approve(rid, "sam", "purpose and fields are proportionate")
    with session_scope(store) as s:
        info = ExportWorkflow(s, store).build(rid, "sam")
    assert info.scan.clean and info.rows["patients"] > 0
    with session_scope(store) as s, pytest.raises(PermissionDenied, match="only the requester"):
        ExportWorkflow(s, store).download(rid, "sam", tmp_path / "sam")
    with session_scope(store) as s:
        target = ExportWorkflow(s, store).download(rid, "alice", tmp_path / "alice")
    with zipfile.ZipFile(target) as zf:
        assert "manifest.json" in zf.namelist() and "data/patients.parquet" in zf.namelist()
    assert not (tmp_path / "sam").exists()
    obj = f"export_request:{rid}"
    acts = [(a, act) for a, act, o in _actions(store) if o == obj]
    assert acts == [
        ("alice", "export.draft"),
        ("alice", "export.submitted"),
        ("alice", "export.refused"),
        ("sam", "export.approved"),
        ("sam", "export.built"),
        ("sam", "export.refused"),
        ("alice", "export.downloaded"),
    ]
    assert audit.verify(store).ok
    with session_scope(store) as s:
        req = ExportWorkflow(s, store).get(rid)
        assert req.state == "downloaded" and [e.to_state for e in req.events][-1] == "downloaded"
        assert json.loads(req.report_json)["k_anonymity"]["k"] == 5


def test_steward_cannot_approve_own_request(store: Settings) -> None:
    rid = _request(store, "ada")  # an admin may request and approve, but never both on one request
    with session_scope(store) as s, pytest.raises(PermissionDenied, match="own export request"):
        ExportWorkflow(s, store).approve(rid, "ada")
    with session_scope(store) as s:
        assert ExportWorkflow(s, store).get(rid).state == "submitted"
    assert ("ada", "export.refused", f"export_request:{rid}") in _actions(store)


def test_request_rules(store: Settings) -> None:
    with pytest.raises(PermissionDenied, match="not a member"):
        _request(store, "bob")
    with pytest.raises(PermissionDenied, match="may not request"):
        _request(store, "sam")
    with pytest.raises(PermissionDenied, match="unknown"):
        _request(store, "mallory")
    with pytest.raises(ValidationFailed, match="data-use agreement"):
        _request(store, accept_dua=False)
    with pytest.raises(ValidationFailed, match="purpose"):
        _request(store, purpose="  ")
    with pytest.raises(ValidationFailed, match="formats"):
        _request(store, formats=["xlsx"])
    with pytest.raises(ValidationFailed, match="not in dataset"):
        _request(store, fields=["age", "name"])
    assert "数据使用协议" in dua_text()


def test_reject_needs_comment_and_is_final(store: Settings) -> None:
    rid = _request(store)
    with session_scope(store) as s, pytest.raises(ValidationFailed):
        ExportWorkflow(s, store).reject(rid, "sam", "")
    with session_scope(store) as s:
        ExportWorkflow(s, store).reject(rid, "sam", "note text is not needed for this purpose")
    with session_scope(store) as s, pytest.raises(ExportStateError):
        ExportWorkflow(s, store).approve(rid, "sam")
    with session_scope(store) as s, pytest.raises(ExportStateError, match="only an approved"):
        ExportWorkflow(s, store).build(rid, "alice")


def test_fields_restrict_the_package(store: Settings) -> None:
    rid = _request(store, fields=["age", "sex", "city", "hba1c_last"])
    with session_scope(store) as s:
        ExportWorkflow(s, store).approve(rid, "sam")
    with session_scope(store) as s:
        info = ExportWorkflow(s, store).build(rid, "alice")
    import pyarrow.parquet as pq

    t = pq.read_table(info.path / "data" / "patients.parquet")
    assert t.column_names == ["person_id", "age", "sex", "city", "hba1c_last"]
    assert not (info.path / "data" / "notes.parquet").exists()


def test_package_expires(store: Settings, tmp_path: Path) -> None:
    rid = _request(store)
    with session_scope(store) as s:
        ExportWorkflow(s, store).approve(rid, "sam")
    with session_scope(store) as s:
        info = ExportWorkflow(s, store).build(rid, "alice")
    later = utcnow() + timedelta(days=store.export_expiry_days + 1)
    with session_scope(store) as s, pytest.raises(ExportExpired):
        ExportWorkflow(s, store, now=lambda: later).download(rid, "alice", tmp_path)
    assert not info.path.exists()
    with session_scope(store) as s:
        assert ExportWorkflow(s, store).get(rid).state == "expired"


def test_expire_due_and_visibility(store: Settings) -> None:
    rid = _request(store)
    with session_scope(store) as s:
        ExportWorkflow(s, store).approve(rid, "sam")
    with session_scope(store) as s:
        ExportWorkflow(s, store).build(rid, "alice")
    with session_scope(store) as s:
        assert ExportWorkflow(s, store).expire_due() == []
    with session_scope(store) as s:
        wf = ExportWorkflow(s, store, now=lambda: datetime(2100, 1, 1))
        assert wf.expire_due() == [rid]
    with session_scope(store) as s:
        wf = ExportWorkflow(s, store)
        assert [r.id for r in wf.visible_to("sam")] == [rid]
        assert [r.id for r in wf.visible_to("alice")] == [rid]
        assert wf.visible_to("bob") == []
