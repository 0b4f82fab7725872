"""Every issued card is in the hash-chained audit log, written in batches, and none is lost."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import event, select

from medlake.audit import verify
from medlake.cdss.app import build_engine
from medlake.cdss.store import CardRecord, CdsStore, cdss_card
from medlake.errors import StoreError
from medlake.settings import Settings
from medlake.store import make_engine, upgrade
from medlake.store.engine import dispose_engine, session_scope
from medlake.store.models import AuditEntry


def _card(n: int) -> CardRecord:
    return CardRecord(
        uuid=f"00000000-0000-4000-8000-{n:012d}",
        service_id="toy",
        task="toy",
        version=1,
        person_id=100 + n,
        hook="patient-view",
        risk=0.2,
        band="medium",
        features="[1.0]",
        created_at=datetime(2026, 11, 22, 12, 0, n % 60),
    )


def _entries(settings: Settings) -> list[AuditEntry]:
    with session_scope(settings) as s:
        return list(s.execute(select(AuditEntry).where(AuditEntry.action == "cdss.cards")).scalars())


@pytest.fixture
def settings(tmp_path: Path) -> Iterator[Settings]:
    s = Settings(data_dir=tmp_path / "data")
    upgrade(s)
    yield s
    dispose_engine(s)


def test_each_batch_is_one_chained_entry_naming_every_card(settings: Settings) -> None:
    store = CdsStore(make_engine(settings), batch=3, audit_dir=settings.data_dir)
    for n in range(4):
        store.log_card(_card(n), actor="dr.li" if n % 2 else "cds-client")
    assert store.pending() == 1  # the first three went out when the batch filled
    store.close()  # a clean shutdown writes the rest
    entries = _entries(settings)
    assert [json.loads(e.details)["n"] for e in entries] == [3, 1]
    cards = [c for e in entries for c in json.loads(e.details)["cards"]]
    assert [c[0] for c in cards] == [_card(n).uuid for n in range(4)]
    assert [c[2] for c in cards] == [100, 101, 102, 103] and cards[1][3] == "dr.li"
    with make_engine(settings).connect() as conn:
        assert conn.execute(select(cdss_card.c.uuid)).scalars().all() == [_card(n).uuid for n in range(4)]
    result = verify(settings)
    assert result.ok, result


def test_a_failed_write_keeps_the_cards_for_the_next_flush(settings: Settings) -> None:
    engine = make_engine(settings)
    store = CdsStore(engine, audit_dir=settings.data_dir)
    store.log_card(_card(1))
    fail = {"on": True}

    def refuse(conn: object, cursor: object, statement: str, *args: object) -> None:
        if fail["on"] and statement.startswith("INSERT INTO cdss_card"):
            raise RuntimeError("disk full")

    event.listen(engine, "before_cursor_execute", refuse)
    with pytest.raises(Exception, match="disk full"):
        store.flush()
    assert store.pending() == 1 and _entries(settings) == []  # nothing half-written, nothing dropped
    fail["on"] = False
    assert store.flush() == 1
    event.remove(engine, "before_cursor_execute", refuse)
    assert len(_entries(settings)) == 1 and verify(settings).ok


def test_the_background_flush_writes_without_a_read(settings: Settings) -> None:
    store = CdsStore(make_engine(settings), audit_dir=settings.data_dir, autoflush=0.05)
    store.log_card(_card(7))
    for _ in range(200):
        if not store.pending() and _entries(settings):
            break
        time.sleep(0.02)
    assert store.pending() == 0 and len(_entries(settings)) == 1
    store.close()


def test_the_service_refuses_a_store_without_the_audit_tables(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "never-migrated")
    with pytest.raises(StoreError, match="audit"):
        build_engine(settings)
    dispose_engine(settings)


def test_a_full_batch_wakes_the_background_writer_instead_of_the_caller(settings: Settings) -> None:
    store = CdsStore(make_engine(settings), batch=2, audit_dir=settings.data_dir, autoflush=3600)
    store.log_card(_card(1))
    store.log_card(_card(2))  # full: returns at once, the thread writes
    for _ in range(200):
        if _entries(settings):
            break
        time.sleep(0.02)
    assert store.pending() == 0 and [json.loads(e.details)["n"] for e in _entries(settings)] == [2]
    store.close()
