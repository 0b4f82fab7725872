"""The hash chain: appends link up, any edit, deletion, reordering or truncation is found by seq."""

from __future__ import annotations

import json
import multiprocessing
import threading

import pytest
from sqlalchemy import select, text

from medlake import audit
from medlake.audit.chain import entry_hash
from medlake.audit.head import read_head
from medlake.settings import Settings
from medlake.store import AuditEntry, session_factory, session_scope, upgrade
from tests.audit.appender import append_many


def _fill(settings: Settings, n: int) -> None:
    upgrade(settings)
    for i in range(n):
        with session_scope(settings) as s:
            audit.append(s, f"user{i % 3}", "patient.view", f"person:{i}", {"i": i, "名": "测试"})


def _exec(settings: Settings, sql: str, **params: object) -> None:
    with session_scope(settings) as s:
        s.execute(text(sql), params)


def test_appends_chain_and_verify(store_settings: Settings) -> None:
    _fill(store_settings, 6)
    result = audit.verify(store_settings)
    assert result.ok and result.entries == 6 and result.head_seq == 6
    with session_factory(store_settings)() as s:
        rows = list(s.execute(select(AuditEntry).order_by(AuditEntry.seq)).scalars())
    assert [r.seq for r in rows] == [1, 2, 3, 4, 5, 6]
    assert rows[0].prev_hash == audit.GENESIS
    for prev, row in zip(rows, rows[1:], strict=False):
        assert row.prev_hash == prev.hash
    assert rows[2].hash == entry_hash(
        3, rows[2].ts, "user2", "patient.view", "person:2", rows[2].details, rows[1].hash
    )
    assert json.loads(rows[2].details) == {"i": 2, "名": "测试"}
    assert read_head(store_settings.data_dir) == (6, rows[-1].hash)


def test_edited_row_is_named(store_settings: Settings) -> None:
    _fill(store_settings, 5)
    _exec(store_settings, "UPDATE audit_log SET details = :d WHERE seq = 3", d='{"i":99}')
    result = audit.verify(store_settings)
    assert not result.ok and result.broken_seq == 3 and "edited" in result.reason


def test_edited_actor_is_named(store_settings: Settings) -> None:
    _fill(store_settings, 5)
    _exec(store_settings, "UPDATE audit_log SET actor = 'someone-else' WHERE seq = 2")
    assert audit.verify(store_settings).broken_seq == 2


def test_deleted_row_is_named(store_settings: Settings) -> None:
    _fill(store_settings, 5)
    _exec(store_settings, "DELETE FROM audit_log WHERE seq = 4")
    result = audit.verify(store_settings)
    assert not result.ok and result.broken_seq == 4 and "missing" in result.reason


def test_reordered_rows_are_found(store_settings: Settings) -> None:
    _fill(store_settings, 5)
    _exec(store_settings, "UPDATE audit_log SET seq = 100 WHERE seq = 2")
    _exec(store_settings, "UPDATE audit_log SET seq = 2 WHERE seq = 3")
    _exec(store_settings, "UPDATE audit_log SET seq = 3 WHERE seq = 100")
    result = audit.verify(store_settings)
    assert not result.ok and result.broken_seq == 2


def test_rehashed_forgery_breaks_the_next_link(store_settings: Settings) -> None:
    """Recomputing the edited row's own hash is not enough: its successor names the old hash."""
    _fill(store_settings, 4)
    with session_scope(store_settings) as s:
        row = s.get(AuditEntry, 2)
        assert row is not None
        row.actor = "forger"
        row.hash = entry_hash(row.seq, row.ts, row.actor, row.action, row.object, row.details, row.prev_hash)
    result = audit.verify(store_settings)
    assert not result.ok and result.broken_seq == 3


def test_truncation_is_caught_by_the_head_checkpoint(store_settings: Settings) -> None:
    _fill(store_settings, 5)
    _exec(store_settings, "DELETE FROM audit_log WHERE seq >= 4")
    result = audit.verify(store_settings)
    assert not result.ok and result.broken_seq == 4 and "truncated" in result.reason


def test_rolled_back_append_leaves_no_trace(store_settings: Settings) -> None:
    _fill(store_settings, 2)
    with pytest.raises(RuntimeError), session_scope(store_settings) as s:
        audit.append(s, "x", "query", "cohort:1", {})
        raise RuntimeError("boom")
    assert read_head(store_settings.data_dir) is not None
    assert read_head(store_settings.data_dir)[0] == 2  # type: ignore[index]
    _fill(store_settings, 1)
    result = audit.verify(store_settings)
    assert result.ok and result.entries == 3


def test_concurrent_appends_stay_one_chain(store_settings: Settings) -> None:
    upgrade(store_settings)
    errors: list[BaseException] = []

    def worker(k: int) -> None:
        try:
            for i in range(8):
                with session_scope(store_settings) as s:
                    audit.append(s, f"w{k}", "query", f"q:{i}", {})
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    result = audit.verify(store_settings)
    assert result.ok and result.entries == 32 and result.head_seq == 32


def test_appends_from_several_processes_stay_one_chain(store_settings: Settings) -> None:
    """Web workers and CLI commands are separate processes: the database lock serialises them."""
    upgrade(store_settings)
    ctx = multiprocessing.get_context("spawn")
    procs = [
        ctx.Process(
            target=append_many, args=(str(store_settings.data_dir), store_settings.database_url, k, 10)
        )
        for k in range(3)
    ]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=120)
    assert [p.exitcode for p in procs] == [0, 0, 0]
    result = audit.verify(store_settings)
    assert result.ok and result.entries == 30 and result.head_seq == 30
