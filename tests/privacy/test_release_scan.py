"""The release gate finds registry identities and recognisable identifiers in CSV, Parquet and text files."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from medlake.privacy.release_scan import KnownIdentifiers, ReleaseScanner, mask

KNOWN = KnownIdentifiers(
    names={"欧阳娜娜"}, ids={"11010519491231002X"}, phones={"13912345678"}, addresses={"文三路123号5栋302室"}
)


def test_clean_package_passes(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    pq.write_table(
        pa.table({"person_id": ["p0123456789abcdef"], "note": ["患者[姓名]，电话[电话]"]}),
        tmp_path / "data" / "a.parquet",
    )
    (tmp_path / "README.md").write_text("# dataset\n主治医师负责。k = 5\n", encoding="utf-8")
    (tmp_path / "manifest.json").write_text(
        '{"sha256": "a13912345678b0c1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f70819"}'
    )
    result = ReleaseScanner(KNOWN).scan_dir(tmp_path)
    assert result.clean, result.as_dict()
    assert result.files_scanned == 3


def test_each_kind_of_leak_found_and_masked(tmp_path: Path) -> None:
    pq.write_table(pa.table({"note": ["家属欧阳娜娜来访", "无"]}), tmp_path / "notes.parquet")
    (tmp_path / "rows.csv").write_text(
        "a,b\n1,身份证11010519491231002X\n2,手机13912345678\n3,住文三路123号5栋302室\n4,电话13800000000\n",
        encoding="utf-8",
    )
    (tmp_path / "image.png").write_bytes(b"\x89PNG")
    result = ReleaseScanner(KNOWN).scan_dir(tmp_path)
    types = result.counts()
    assert types.get("NAME", 0) >= 1 and types.get("ID", 0) >= 1 and types.get("PHONE", 0) >= 2
    assert types.get("ADDRESS", 0) >= 1 and types.get("UNSCANNABLE") == 1
    assert any(
        f.file == "rows.csv" and f.where == "column b" and f.source == "recogniser" for f in result.findings
    )
    assert any(
        f.file == "notes.parquet" and f.source == "registry" and f.type == "NAME" for f in result.findings
    )
    dumped = str(result.as_dict())
    assert "13912345678" not in dumped and "欧阳娜娜" not in dumped
    assert mask("13912345678") == "1" + "*" * 10


def test_numbers_and_pseudonyms_are_not_identifiers_but_registry_tokens_are(tmp_path: Path) -> None:
    (tmp_path / "lab.csv").write_text(
        "person_id,value,count,code\n"
        "p110105194912310021,6.110105194912310021,12,E11.900\n"
        "p0000000000000000,0.13912345678,3,H00000123\n",
        encoding="utf-8",
    )
    known = KnownIdentifiers(record_numbers={"H00000123"}, phones={"13912345678"})
    result = ReleaseScanner(known).scan_dir(tmp_path)
    assert [(f.where, f.type, f.source) for f in result.findings] == [
        ("column code", "MRN", "recogniser"),
        ("column code", "MRN", "registry"),
    ]
