"""End to end from the CLI: request → refused self-approval → steward approval → build → download by the
requester only; plus dataset create / list / preview and the release scan."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest

from medlake.cli import main
from medlake.settings import Settings
from tests.export.conftest import spec_dict


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    try:
        main(list(argv))
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    out = capsys.readouterr()
    return code, out.out, out.err


def test_export_end_to_end(store: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    d = ["--data-dir", str(store.data_dir)]
    spec_file = tmp_path / "dm.json"
    spec_file.write_text(json.dumps(spec_dict(), ensure_ascii=False), encoding="utf-8")

    code, out, err = run(capsys, "dataset", "create", str(spec_file), "--user", "alice", *d)
    assert code == 0, err
    assert "p1/dm version 1" in out
    code, out, _ = run(capsys, "dataset", "list", *d)
    assert "p1/dm@1" in out
    code, out, err = run(capsys, "dataset", "preview", "p1/dm", "--rows", "2", "--user", "alice", *d)
    assert code == 0, err
    assert len(json.loads(out)["patients"]) == 2

    code, out, err = run(
        capsys,
        "export",
        "request",
        "p1/dm",
        "--user",
        "alice",
        "--purpose",
        "HbA1c study",
        "--dua",
        "dua-v1",
        "--accept-dua",
        "--format",
        "parquet",
        "--format",
        "csv-excel",
        "--json",
        *d,
    )
    assert code == 0, err
    rid = str(json.loads(out)["id"])

    code, out, err = run(capsys, "export", "approve", rid, "--user", "alice", *d)  # the requester herself
    assert code == 2 and "ML403" in err and "not a data steward" in err

    code, out, err = run(capsys, "export", "show", rid, "--user", "sam", "--rows", "3", *d)
    assert code == 0, err
    shown = json.loads(out)
    assert shown["state"] == "submitted" and len(shown["preview"]["tables"]["patients"]["rows"]) == 3
    assert shown["preview"]["plan"]["patients"]["person_id"] == "pseudonymise"
    assert shown["preview"]["report"]["k_anonymity"]["k"] == 5
    code, _, err = run(capsys, "export", "show", rid, "--user", "bob", *d)
    assert code == 2 and "ML403" in err

    code, out, err = run(capsys, "export", "approve", rid, "--user", "sam", "--comment", "ok", *d)
    assert code == 0 and "approved by sam" in out, err

    code, out, err = run(capsys, "export", "build", rid, "--user", "sam", "--json", *d)
    assert code == 0, err
    built = json.loads(out)
    assert built["scan"]["clean"] and built["rows"]["patients"] > 0

    code, out, err = run(capsys, "export", "scan", rid, "--user", "sam", *d)
    assert code == 0 and json.loads(out)["clean"], out

    code, out, err = run(
        capsys, "export", "download", rid, "--user", "sam", "--out", str(tmp_path / "sam"), *d
    )
    assert code == 2 and "only the requester" in err
    code, out, err = run(
        capsys, "export", "download", rid, "--user", "alice", "--out", str(tmp_path / "alice"), *d
    )
    assert code == 0, err
    with zipfile.ZipFile(out.strip()) as zf:
        assert "data/patients.excel.csv" not in zf.namelist() and "data/patients.csv" in zf.namelist()

    code, out, _ = run(capsys, "export", "list", "--user", "alice", "--json", *d)
    assert [r["state"] for r in json.loads(out)] == ["downloaded"]
    code, out, _ = run(capsys, "export", "dua")
    assert "dua-v1" in out


def test_self_approval_by_an_admin_refused(
    store: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    d = ["--data-dir", str(store.data_dir)]
    spec_file = tmp_path / "dm.json"
    spec_file.write_text(json.dumps(spec_dict(), ensure_ascii=False), encoding="utf-8")
    assert run(capsys, "dataset", "create", str(spec_file), "--user", "ada", *d)[0] == 0
    code, out, err = run(
        capsys,
        "export",
        "request",
        "p1/dm",
        "--user",
        "ada",
        "--purpose",
        "x",
        "--dua",
        "dua-v1",
        "--accept-dua",
        "--json",
        *d,
    )
    assert code == 0, err
    rid = str(json.loads(out)["id"])
    code, _, err = run(capsys, "export", "approve", rid, "--user", "ada", *d)
    assert code == 2 and "cannot approve or reject their own" in err
    code, _, err = run(capsys, "dataset", "create", str(spec_file), "--user", "bob", *d)
    assert code == 2 and "not a member" in err


def test_reject_and_expire_from_the_cli(
    store: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    d = ["--data-dir", str(store.data_dir)]
    spec_file = tmp_path / "dm.json"
    spec_file.write_text(json.dumps(spec_dict(notes=None), ensure_ascii=False), encoding="utf-8")
    assert run(capsys, "dataset", "create", str(spec_file), "--user", "alice", *d)[0] == 0
    ids = []
    for _ in range(2):
        code, out, err = run(
            capsys,
            "export",
            "request",
            "p1/dm",
            "--user",
            "alice",
            "--purpose",
            "x",
            "--dua",
            "dua-v1",
            "--accept-dua",
            "--json",
            *d,
        )
        assert code == 0, err
        ids.append(str(json.loads(out)["id"]))
    code, _, err = run(capsys, "export", "request", "p1/dm", "--user", "alice", "--purpose", "x", *d)
    assert code == 2 and "data-use agreement" in err
    code, _, err = run(capsys, "export", "reject", ids[0], "--user", "sam", *d)
    assert code == 2 and "comment" in err
    code, out, _ = run(capsys, "export", "reject", ids[0], "--user", "sam", "--comment", "too broad", *d)
    assert code == 0 and "rejected" in out
    code, _, err = run(capsys, "export", "build", ids[0], "--user", "alice", *d)
    assert code == 2 and "ML602" in err
    assert run(capsys, "export", "approve", ids[1], "--user", "sam", *d)[0] == 0
    assert run(capsys, "export", "build", ids[1], "--user", "alice", *d)[0] == 0
    code, out, _ = run(capsys, "export", "expire", "--user", "sam", *d)
    assert code == 0 and out.startswith("0 package")
    code, _, err = run(capsys, "export", "expire", "--user", "alice", *d)
    assert code == 2 and "only stewards" in err
