"""The package: files, manifest hashes, BOM CSV, data dictionary, k counted, written aside then swapped."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from medlake.errors import ReleaseBlocked
from medlake.export.formats import UTF8_BOM
from medlake.export.package import sha256_file
from medlake.export.pipeline import release
from medlake.export.spec import DatasetSpec
from tests.export.conftest import spec_dict


def test_package_contents(tiny_lake: Path) -> None:
    spec = DatasetSpec.model_validate(spec_dict())
    dest = tiny_lake / "exports" / "one"
    info = release(
        spec, data_dir=tiny_lake, dest=dest, formats=["parquet", "csv-excel"], meta={"request_id": 1}
    )
    files = sorted(str(p.relative_to(dest)) for p in dest.rglob("*") if p.is_file())
    assert files == [
        "README.md",
        "data/notes.csv",
        "data/notes.parquet",
        "data/patients.csv",
        "data/patients.parquet",
        "data_dictionary.csv",
        "deid_report.json",
        "manifest.json",
    ]
    manifest = json.loads((dest / "manifest.json").read_text(encoding="utf-8"))
    for rel, entry in manifest["files"].items():
        assert sha256_file(dest / rel) == entry["sha256"]
    assert info.manifest_sha256 == sha256_file(dest / "manifest.json")
    assert (dest / "data" / "patients.csv").read_bytes().startswith(UTF8_BOM)
    dictionary = (dest / "data_dictionary.csv").read_text(encoding="utf-8-sig").splitlines()
    assert (
        dictionary[0].replace('"', "")
        == "table,variable,label_zh,label_en,type,unit,code_system,missing_rate,action"
    )
    assert any(line.startswith('"patients","hba1c_first"') and '"%"' in line for line in dictionary)
    report = json.loads((dest / "deid_report.json").read_text(encoding="utf-8"))
    assert report["k_anonymity"]["k"] == 5
    assert report["columns"]["patients"]["person_id"]["action"] == "pseudonymise"
    readme = (dest / "README.md").read_text(encoding="utf-8")
    assert "Cohort definition" in readme and "k = 5" in readme
    assert "| measurement | 180 | 1 |" in readme and "| note | 60 | 1 |" in readme  # provenance
    assert manifest["lake"]["person"]["rows"] == 60
    assert not [p for p in dest.parent.iterdir() if p.name.startswith(".tmp-")]


def test_k5_over_age_sex_city_counted_in_the_package(tiny_lake: Path) -> None:
    spec = DatasetSpec.model_validate(spec_dict(notes=None))
    dest = tiny_lake / "exports" / "k5"
    release(spec, data_dir=tiny_lake, dest=dest, formats=["parquet"])
    t = pq.read_table(dest / "data" / "patients.parquet")
    classes = Counter(zip(*(t.column(c).to_pylist() for c in ("age", "sex", "city")), strict=True))
    assert t.num_rows > 0
    assert min(classes.values()) >= 5, classes


def test_person_list_not_written_into_the_readme(tiny_lake: Path) -> None:
    spec = DatasetSpec.model_validate(
        spec_dict(cohort={"kind": "persons", "person_ids": list(range(1001, 1061))}, notes=None)
    )
    dest = tiny_lake / "exports" / "pl"
    release(spec, data_dir=tiny_lake, dest=dest, formats=["csv"])
    readme = (dest / "README.md").read_text(encoding="utf-8")
    assert '"count": 60' in readme and "1001" not in readme


def test_overrides_generalise_pseudonymise_and_suppress(tiny_lake: Path) -> None:
    variables = [
        {
            "type": "demographic",
            "name": "addr",
            "field": "address",
            "deid": {"addr": {"action": "generalise", "method": "province"}},
        },
        {"type": "demographic", "name": "regno", "field": "registry_id"},
    ]
    spec = DatasetSpec.model_validate(
        spec_dict(
            variables=variables,
            notes={},
            deid={"k": 1, "columns": {"notes.note_text": {"action": "suppress"}}},
        )
    )
    dest = tiny_lake / "exports" / "overrides"
    release(spec, data_dir=tiny_lake, dest=dest, formats=["parquet"])
    patients = pq.read_table(dest / "data" / "patients.parquet")
    assert set(patients.column("addr").to_pylist()) == {"浙江省", "江苏省"}
    assert all(v.startswith("p") and len(v) == 17 for v in patients.column("regno").to_pylist())
    notes = pq.read_table(dest / "data" / "notes.parquet")
    assert "note_text" not in notes.column_names and "note_title" in notes.column_names


def test_release_blocked_when_the_scan_finds_identifiers(
    tiny_lake: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from medlake.privacy import scrubber as scrubber_mod

    # a broken scrubber (identity) lets every identifier through: the gate must refuse the release
    monkeypatch.setattr(
        scrubber_mod.Scrubber,
        "scrub",
        lambda self, text, patient=None: scrubber_mod.ScrubResult(text or "", []),
    )
    spec = DatasetSpec.model_validate(spec_dict())
    dest = tiny_lake / "exports" / "blocked"
    with pytest.raises(ReleaseBlocked) as exc:
        release(spec, data_dir=tiny_lake, dest=dest, formats=["parquet", "csv"])
    found = exc.value.findings["findings_by_type"]
    assert {"NAME", "ID", "PHONE", "ADDRESS"} <= set(found)
    assert not dest.exists()
    assert not [p for p in dest.parent.iterdir() if p.name.startswith(".tmp-")]
