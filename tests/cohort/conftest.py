"""A tiny synthetic hospital lake for cohort tests (six persons, every criterion domain)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest

from medlake.cdm.lake import Lake

D = dt.date


def _lab(mid: int, pid: int, code: str, value: str, day: D) -> dict[str, Any]:
    return {
        "measurement_id": mid,
        "person_id": pid,
        "measurement_concept_id": 0,
        "measurement_date": day,
        "measurement_type_concept_id": 0,
        "measurement_source_value": code,
        "value_source_value": value,
    }


def hospital_rows() -> dict[str, list[dict[str, Any]]]:
    persons = [
        (1, 8532, 1960),
        (2, 8532, 1970),
        (3, 8532, 1980),
        (4, 8507, 1950),
        (5, 8532, 1965),
        (6, 8532, 1990),
    ]
    conditions = [
        (1, 1, "C50.900", D(2020, 1, 10)),
        (2, 1, "E11.900", D(2015, 3, 1)),
        (3, 2, "C50.9", D(2020, 2, 1)),
        (4, 2, "I10.x00", D(2021, 1, 1)),
        (5, 3, "C50.401", D(2020, 3, 1)),
        (6, 4, "E11.900", D(2019, 1, 1)),
        (7, 5, "C50.900", D(2020, 5, 1)),
        (8, 5, "I10", D(2019, 5, 1)),
        (9, 6, "C50.900", D(2020, 1, 1)),
        (10, 1, "C50.900", D(2020, 8, 1)),
    ]
    labs = [
        _lab(1, 1, "7001", "阳性(80%,强)", D(2020, 1, 12)),
        _lab(2, 1, "7002", "阳性(40%,中等)", D(2020, 1, 12)),
        _lab(3, 1, "7003", "3+", D(2020, 1, 12)),
        _lab(4, 2, "7001", "阳性(60%,强)", D(2020, 2, 3)),
        _lab(5, 2, "7002", "阴性", D(2020, 2, 3)),
        _lab(6, 2, "7003", "1+", D(2020, 2, 3)),
        _lab(7, 3, "7001", "阳性(90%,强)", D(2020, 3, 3)),
        _lab(8, 3, "7002", "阳性(10%,中等)", D(2020, 3, 3)),
        _lab(9, 3, "7003", "2+", D(2020, 3, 3)),
        _lab(10, 3, "7005", "扩增 (HER2/CEP17比值 2.6)", D(2020, 3, 6)),
        _lab(11, 5, "7001", "阳性(70%,强)", D(2020, 5, 3)),
        _lab(12, 5, "7002", "阳性(20%,中等)", D(2020, 5, 3)),
        _lab(13, 5, "7003", "3+", D(2020, 5, 3)),
        _lab(14, 6, "7001", "阳性(95%,强)", D(2020, 1, 3)),
        _lab(15, 6, "7002", "阳性(80%,中等)", D(2020, 1, 3)),
        _lab(16, 6, "7003", "3+", D(2020, 1, 3)),
    ]
    labs.append(
        {
            **_lab(17, 4, "1001", "12.5", D(2019, 1, 1)),
            "value_as_number": 12.5,
            "abnormal_flag": "H",
            "unit_source_value": "10^9/L",
        }
    )
    notes = [
        (101, 1, D(2020, 6, 1), "影像报告", "双肺多发结节，考虑肺转移瘤，请结合临床。"),
        (102, 3, D(2020, 6, 2), "影像报告", "双肺未见明显异常。"),
        (103, 3, D(2020, 3, 2), "入院记录", "既往糖尿病史5年，口服二甲双胍。"),
        (104, 5, D(2020, 9, 1), "影像报告", "双肺多发结节，考虑转移。"),
        (105, 6, D(2020, 2, 1), "影像报告", "右肺下叶结节，考虑肺转移瘤。"),
        (106, 6, D(2020, 1, 2), "入院记录", "否认糖尿病史，否认高血压病史。"),
    ]
    nlp = [
        (1001, 101, 1, "肺转移瘤", "C78.000", "疾病和诊断", "possible"),
        (1002, 103, 3, "糖尿病", "E11.900", "疾病和诊断", "present"),
        (1003, 105, 6, "肺转移瘤", "C78.000", "疾病和诊断", "possible"),
        (1006, 104, 5, "转移", "C78.000", "疾病和诊断", "possible"),
        (1004, 106, 6, "糖尿病", "E11.900", "疾病和诊断", "negated"),
        (1005, 106, 6, "高血压", "I10.x00", "疾病和诊断", "negated"),
    ]
    images = [
        (201, 1, D(2020, 6, 1), "CT", "CHEST", 101),
        (202, 3, D(2020, 6, 2), "CT", "CHEST", 102),
        (203, 5, D(2020, 9, 1), "CT", "CHEST", 104),
        (204, 6, D(2020, 2, 1), "CT", "CHEST", 105),
    ]
    return {
        "person": [{"person_id": p, "gender_concept_id": g, "year_of_birth": y} for p, g, y in persons],
        "observation_period": [
            {
                "observation_period_id": p,
                "person_id": p,
                "observation_period_start_date": D(2010, 1, 1),
                "observation_period_end_date": D(2023, 12, 31),
                "period_type_concept_id": 0,
            }
            for p, _, _ in persons
        ],
        "condition_occurrence": [
            {
                "condition_occurrence_id": i,
                "person_id": p,
                "condition_concept_id": 0,
                "condition_start_date": d,
                "condition_type_concept_id": 0,
                "condition_source_value": code,
                "visit_occurrence_id": None,
            }
            for i, p, code, d in conditions
        ],
        "measurement": labs,
        "note": [
            {
                "note_id": i,
                "person_id": p,
                "note_date": d,
                "note_source_value": k,
                "note_text": t,
                "note_title": k,
            }
            for i, p, d, k, t in notes
        ],
        "note_nlp": [
            {
                "note_nlp_id": i,
                "note_id": n,
                "person_id": p,
                "lexical_variant": lv,
                "concept_code": code,
                "entity_type": et,
                "assertion": a,
                "nlp_date": D(2020, 12, 31),
            }
            for i, n, p, lv, code, et, a in nlp
        ],
        "image_occurrence": [
            {
                "image_occurrence_id": i,
                "person_id": p,
                "image_occurrence_date": d,
                "modality": mo,
                "anatomic_site_source_value": bp,
                "note_id": n,
            }
            for i, p, d, mo, bp, n in images
        ],
        "drug_exposure": [
            {
                "drug_exposure_id": 1,
                "person_id": 1,
                "drug_concept_id": 0,
                "drug_exposure_start_date": D(2020, 2, 1),
                "drug_type_concept_id": 0,
                "drug_source_value": "曲妥珠单抗",
            },
        ],
        "visit_occurrence": [
            {
                "visit_occurrence_id": 1,
                "person_id": 1,
                "visit_concept_id": 9201,
                "visit_start_date": D(2020, 1, 9),
                "visit_end_date": D(2020, 1, 20),
                "visit_type_concept_id": 0,
                "care_site_id": 77,
            },
        ],
        "care_site": [{"care_site_id": 77, "care_site_name": "乳腺外科", "care_site_source_value": "0202"}],
    }


def build_lake(root: Path) -> Lake:
    lake = Lake(root)
    with lake.transaction() as tx:
        for table, rows in hospital_rows().items():
            keys = sorted({k for r in rows for k in r})  # from_pylist takes the keys of the first row only
            tx.write(table, "tiny", [{k: r.get(k) for k in keys} for r in rows])
    return lake


@pytest.fixture
def tiny_lake(tmp_path: Path) -> Lake:
    return build_lake(tmp_path / "lake")
