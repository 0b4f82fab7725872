"""End to end on the synthetic hospital, from the CLI: synth → ingest → dataset → request → refused
self-approval → steward approval → build → download by the requester only; then every file of the
downloaded package is searched for the synthetic patients' names, resident ids, phones and addresses."""

from __future__ import annotations

import csv
import json
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from medlake.cli import main
from medlake.settings import Settings
from medlake.store import User, session_scope, upgrade
from medlake.store.engine import dispose_engine
from medlake.web.services.accounts import add_member, create_project


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    try:
        main(list(argv))
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.fixture(scope="module")
def hospital(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Path]]:
    from medlake.synth import SynthConfig, generate

    root = tmp_path_factory.mktemp("e2e")
    src, data = root / "hospital", root / "medlake-data"
    generate(SynthConfig(patients=30, seed=5, out=src, max_dicom_files=0))
    try:
        main(["ingest", str(src), "--data-dir", str(data), "--quiet"])
    except SystemExit as exc:
        assert not exc.code
    settings = Settings(data_dir=data)
    upgrade(settings)
    with session_scope(settings) as session:
        for name, role in (("alice", "researcher"), ("sam", "steward")):
            session.add(User(username=name, role=role, password_hash="!unused"))
        session.flush()
        add_member(session, create_project(session, "dm", "Diabetes"), "alice")
    yield src, data
    dispose_engine(settings)


def registry_values(src: Path) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {"name": set(), "id": set(), "phone": set(), "address": set()}
    with open(src / "his" / "patients.csv", encoding="utf-8-sig", newline="") as fh:
        for row in csv.DictReader(fh):
            for key, col in (("name", "姓名"), ("id", "身份证号"), ("phone", "手机号"), ("address", "地址")):
                if row[col]:
                    out[key].add(row[col])
    return out


def test_cli_end_to_end(
    hospital: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src, data = hospital
    d = ["--data-dir", str(data)]
    spec = {
        "name": "t2dm",
        "project": "dm",
        "cohort": {"kind": "filter"},
        "index": {"kind": "first_visit"},
        "variables": [
            {"type": "demographic", "name": "age", "field": "age"},
            {"type": "demographic", "name": "sex", "field": "sex"},
            {"type": "demographic", "name": "city", "field": "city"},
            {
                "type": "condition",
                "name": "t2dm",
                "codes": ["E11"],
                "window": {"start_days": -3650, "end_days": 3650},
            },
            {
                "type": "lab",
                "name": "lab1001",
                "codes": ["1001"],
                "window": {"start_days": -3650, "end_days": 3650},
            },
        ],
        "notes": {"window": {"start_days": -3650, "end_days": 3650}, "max_per_person": 100},
        "deid": {"k": 5},
    }
    spec_file = tmp_path / "t2dm.json"
    spec_file.write_text(json.dumps(spec, ensure_ascii=False), encoding="utf-8")
    assert run(capsys, "dataset", "create", str(spec_file), "--user", "alice", *d)[0] == 0
    code, out, err = run(
        capsys,
        "export",
        "request",
        "dm/t2dm",
        "--user",
        "alice",
        "--purpose",
        "diabetes outcomes",
        "--dua",
        "dua-v1",
        "--accept-dua",
        "--json",
        *d,
    )
    assert code == 0, err
    rid = str(json.loads(out)["id"])
    code, _, err = run(capsys, "export", "approve", rid, "--user", "alice", *d)
    assert code == 2 and "ML403" in err
    assert run(capsys, "export", "approve", rid, "--user", "sam", "--comment", "ok", *d)[0] == 0
    code, out, err = run(capsys, "export", "build", rid, "--user", "sam", "--json", *d)
    assert code == 0, err + out
    assert json.loads(out)["rows"]["notes"] > 30
    code, _, err = run(capsys, "export", "download", rid, "--user", "sam", "--out", str(tmp_path / "s"), *d)
    assert code == 2 and "only the requester" in err
    code, out, err = run(
        capsys, "export", "download", rid, "--user", "alice", "--out", str(tmp_path / "a"), *d
    )
    assert code == 0, err

    # every file of the package, searched for every registry identity of the synthetic patients
    values = registry_values(src)
    assert len(values["name"]) == 30
    found: dict[str, int] = {k: 0 for k in values}
    with zipfile.ZipFile(out.strip()) as zf:
        for member in zf.namelist():
            blob = zf.read(member)
            text = blob.decode("utf-8", errors="ignore")
            if member.endswith(".parquet"):
                import io

                import pyarrow.parquet as pq

                table = pq.read_table(io.BytesIO(blob))
                text = "\n".join(str(v) for col in table.columns for v in col.to_pylist())
            for kind, vals in values.items():
                found[kind] += sum(text.count(v) for v in vals)
        notes_csv = zf.read("data/notes.csv").decode("utf-8")
    assert found == {"name": 0, "id": 0, "phone": 0, "address": 0}
    assert "[姓名]" in notes_csv and "[电话]" in notes_csv
