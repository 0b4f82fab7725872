"""Identity truth covers every source id; the noise between systems is realistic and small."""

from __future__ import annotations

import csv
import io
import json
import random
from collections import defaultdict
from datetime import date
from pathlib import Path

import pydicom
from pypinyin import lazy_pinyin

from medlake.synth import SynthSummary
from medlake.synth.identity import homophone_typo, local_id, phone_typo, swap_day_month
from medlake.synth.vocab import load_vocab


def _truth(out: Path) -> dict[tuple[str, str], str]:
    rows = list(csv.DictReader(io.StringIO((out / "truth" / "identity.csv").read_text(encoding="utf-8"))))
    return {(r["system"], r["local_id"]): r["person_key"] for r in rows}


def test_truth_covers_every_source_id(hospital: tuple[Path, SynthSummary]) -> None:
    out, _ = hospital
    truth = _truth(out)
    his = [
        r[0] for r in csv.reader(io.StringIO((out / "his" / "patients.csv").read_text(encoding="utf-8-sig")))
    ][1:]
    assert all(("HIS", pid) in truth for pid in his)
    lis_ids = set()
    for f in (out / "lis").glob("*.hl7"):
        for seg in f.read_bytes().decode("utf-8").split("\r"):
            if seg.startswith("PID|"):
                lis_ids.add(seg.split("|")[3].split("^")[0])
    assert lis_ids and all(("LIS", i) in truth for i in lis_ids)
    pacs_ids = {pydicom.dcmread(f, stop_before_pixels=True).PatientID for f in (out / "pacs").rglob("*.dcm")}
    assert pacs_ids and all(("PACS", i) in truth for i in pacs_ids)
    partner = {f.stem for f in (out / "partner" / "fhir").glob("*.json")}
    assert partner and all(("PARTNER", i) in truth for i in partner)
    # one HIS id per person, and no stray rows
    per_person: dict[str, list[str]] = defaultdict(list)
    for (system, _), key in truth.items():
        per_person[key].append(system)
    assert all(systems.count("HIS") == 1 for systems in per_person.values())
    assert len(truth) == len(his) + len(lis_ids) + len(pacs_ids) + len(partner)


def test_lis_record_matches_his_person_mostly(hospital: tuple[Path, SynthSummary]) -> None:
    out, _ = hospital
    truth = _truth(out)
    his = {
        truth[("HIS", r[0])]: r for r in csv.reader(io.StringIO((out / "his" / "patients.csv").read_text(encoding="utf-8-sig")))
        if r[0] != "登记号"
    }  # fmt: skip
    same = total = 0
    for f in (out / "lis").glob("*.hl7"):
        for seg in f.read_bytes().decode("utf-8").split("\r"):
            if seg.startswith("PID|"):
                fields = seg.split("|")
                person = his[truth[("LIS", fields[3].split("^")[0])]]
                total += 1
                same += fields[5] == person[1]
                assert lazy_pinyin(fields[5]) == lazy_pinyin(person[1])  # typos are homophones
    assert total and same / total > 0.8


def test_local_ids_are_namespaced_and_unique() -> None:
    ids = {local_id("LIS", i, 3) for i in range(5000)}
    assert len(ids) == 5000 and all(i.startswith("L") and len(i) == 8 for i in ids)
    assert local_id("PACS", 1, 3).startswith("P") and local_id("PARTNER", 1, 3).startswith("PH")


def test_noise_functions() -> None:
    vocab = load_vocab()
    rng = random.Random(1)
    typo = homophone_typo(vocab, "张伟", rng)
    assert typo != "张伟" and lazy_pinyin(typo) == lazy_pinyin("张伟")
    assert swap_day_month(date(1990, 3, 7)) == date(1990, 7, 3)
    assert swap_day_month(date(1990, 3, 25)) == date(1990, 3, 25)
    p = phone_typo("13812345678", rng)
    assert len(p) == 11 and sum(a != b for a, b in zip(p, "13812345678", strict=True)) == 1


def test_homophone_table_is_same_pinyin() -> None:
    vocab = load_vocab()
    for char, alternatives in vocab.homophones.items():
        for alt in alternatives:
            assert lazy_pinyin(char) == lazy_pinyin(alt), (char, alt)


def test_partner_bundle_is_json_collection(hospital: tuple[Path, SynthSummary]) -> None:
    f = next((hospital[0] / "partner" / "fhir").glob("*.json"))
    assert json.loads(f.read_text(encoding="utf-8"))["type"] == "collection"
