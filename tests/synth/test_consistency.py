"""Notes agree with the structured sources: lab values with LIS results, burn areas with HIS codes."""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from pathlib import Path

from medlake.synth import SynthSummary
from medlake.synth.vocab import load_vocab


def _lis_values(out: Path) -> dict[tuple[str, str], set[str]]:
    """(visit_no, local test code) -> result values, from the HL7 files."""
    values: dict[tuple[str, str], set[str]] = defaultdict(set)
    for f in (out / "lis").glob("*.hl7"):
        visit = ""
        for seg in f.read_bytes().decode("utf-8").split("\r"):
            fields = seg.split("|")
            if fields[0] == "PV1":
                visit = fields[19] if len(fields) > 19 else ""
            elif fields[0] == "OBX" and visit:
                values[(visit, fields[3].split("^")[0])].add(fields[5])
    return values


def test_lab_values_in_notes_match_lis(
    hospital: tuple[Path, SynthSummary], notes: list[dict[str, object]], gold: dict[str, dict[str, object]]
) -> None:
    vocab = load_vocab()
    code_of = {t.abbr: t.code for t in vocab.labs.values()} | {t.name: t.code for t in vocab.labs.values()}
    code_of["血乳酸"] = vocab.labs["LAC"].code
    lis = _lis_values(hospital[0])
    visits_with_lis = {v for v, _ in lis}
    checked = 0
    for n in notes:
        visit = str(n["visit_no"])
        if visit not in visits_with_lis or n["doc_type"] not in ("入院记录", "病程记录"):
            continue
        for e in gold[str(n["doc_id"])]["entities"]:  # type: ignore[attr-defined]
            code = code_of.get(e["text"])
            if e["type"] != "实验室检验" or code is None or "unit" not in e or (visit, code) not in lis:
                continue
            assert e["value"] in lis[(visit, code)], (n["doc_id"], e)
            checked += 1
    assert checked > 30


def test_burn_area_in_notes_matches_his_code(
    hospital: tuple[Path, SynthSummary], notes: list[dict[str, object]], gold: dict[str, dict[str, object]]
) -> None:
    rows = list(csv.reader(io.StringIO((hospital[0] / "his" / "diagnoses.csv").read_text(encoding="gbk"))))[
        1:
    ]
    codes: dict[str, set[str]] = defaultdict(set)
    for r in rows:
        codes[r[1]].add(r[3])
    checked = 0
    for n in notes:
        for e in gold[str(n["doc_id"])]["entities"]:  # type: ignore[attr-defined]
            if e["text"] == "TBSA":
                decile = min(8, int(e["value"]) // 10)
                assert f"T31.{decile}00" in codes[str(n["visit_no"])]
                checked += 1
    assert checked > 0
