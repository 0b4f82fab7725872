"""A tiny lake written in code: three patients from two source systems, every event kind."""

from __future__ import annotations

import json
from datetime import date, datetime
from pathlib import Path

from medlake.cdm import TABLES, Lake

PERSONS = (1001, 1002, 1003)


def build_tiny_lake(data_dir: Path) -> Path:
    lake = Lake(data_dir)
    with lake.transaction() as tx:
        tx.write(
            "person",
            "his",
            [
                {
                    "person_id": 1001,
                    "gender_concept_id": 8507,
                    "gender_source_value": "1",
                    "year_of_birth": 1960,
                    "person_source_value": "H001",
                    "src_system": "HIS",
                },
                {
                    "person_id": 1002,
                    "gender_concept_id": 8532,
                    "gender_source_value": "2",
                    "year_of_birth": 1985,
                    "person_source_value": "H002",
                    "src_system": "HIS",
                },
                {
                    "person_id": 1003,
                    "gender_concept_id": 8532,
                    "gender_source_value": "2",
                    "year_of_birth": 2001,
                    "person_source_value": "H003",
                    "src_system": "HIS",
                },
            ],
        )
        tx.write(
            "source_person",
            "his",
            [
                {
                    "src_system": "HIS",
                    "src_person_id": "H001",
                    "name": "张三",
                    "sex": "1",
                    "birth_date": date(1960, 3, 1),
                },
                {
                    "src_system": "HIS",
                    "src_person_id": "H002",
                    "name": "李四",
                    "sex": "2",
                    "birth_date": date(1985, 7, 9),
                },
                {
                    "src_system": "HIS",
                    "src_person_id": "H003",
                    "name": "王五",
                    "sex": "2",
                    "birth_date": date(2001, 1, 2),
                },
                {
                    "src_system": "LIS",
                    "src_person_id": "L77",
                    "name": "张三",
                    "sex": "M",
                    "birth_date": date(1960, 3, 1),
                },
            ],
        )
        tx.write(
            "person_link",
            "mpi",
            [
                {"src_system": "HIS", "src_person_id": "H001", "person_id": 1001, "link_method": "exact"},
                {"src_system": "HIS", "src_person_id": "H002", "person_id": 1002, "link_method": "exact"},
                {"src_system": "HIS", "src_person_id": "H003", "person_id": 1003, "link_method": "exact"},
                {"src_system": "LIS", "src_person_id": "L77", "person_id": 1001, "link_method": "splink"},
            ],
        )
        tx.write(
            "care_site",
            "his",
            [
                {"care_site_id": 1, "care_site_name": "心内科"},
                {"care_site_id": 2, "care_site_name": "内分泌科"},
            ],
        )
        tx.write(
            "concept",
            "local",
            [
                {
                    "concept_id": 2000000001,
                    "concept_name": "高血压",
                    "vocabulary_id": "ICD10CN",
                    "concept_code": "I10.x00",
                },
                {
                    "concept_id": 2000000002,
                    "concept_name": "2型糖尿病",
                    "vocabulary_id": "ICD10CN",
                    "concept_code": "E11.900",
                },
            ],
        )
        tx.write(
            "visit_occurrence",
            "his",
            [
                {
                    "visit_occurrence_id": 1,
                    "person_id": 1001,
                    "visit_concept_id": 9202,
                    "visit_start_date": date(2024, 1, 5),
                    "visit_start_datetime": datetime(2024, 1, 5, 9, 0),
                    "care_site_id": 1,
                    "visit_source_value": "V1",
                    "src_system": "HIS",
                },
                {
                    "visit_occurrence_id": 2,
                    "person_id": 1001,
                    "visit_concept_id": 9201,
                    "visit_start_date": date(2024, 3, 2),
                    "visit_start_datetime": datetime(2024, 3, 2, 10, 0),
                    "care_site_id": 1,
                    "visit_source_value": "V2",
                    "src_system": "HIS",
                },
                {
                    "visit_occurrence_id": 3,
                    "person_id": 1002,
                    "visit_concept_id": 9202,
                    "visit_start_date": date(2024, 3, 9),
                    "care_site_id": 2,
                    "visit_source_value": "V3",
                    "src_system": "HIS",
                },
            ],
        )
        tx.write(
            "condition_occurrence",
            "his",
            [
                {
                    "condition_occurrence_id": 1,
                    "person_id": 1001,
                    "condition_start_date": date(2024, 1, 5),
                    "condition_source_value": "I10.x00",
                    "condition_source_concept_id": 2000000001,
                    "src_system": "HIS",
                },
                {
                    "condition_occurrence_id": 2,
                    "person_id": 1001,
                    "condition_start_date": date(2024, 3, 2),
                    "condition_source_value": "E11.900",
                    "condition_source_concept_id": 2000000002,
                    "src_system": "HIS",
                },
                {
                    "condition_occurrence_id": 3,
                    "person_id": 1002,
                    "condition_start_date": date(2024, 3, 9),
                    "condition_source_value": "E11.900",
                    "condition_source_concept_id": 2000000002,
                    "src_system": "HIS",
                },
            ],
        )
        tx.write(
            "measurement",
            "lis",
            [
                {
                    "measurement_id": i,
                    "person_id": 1001,
                    "measurement_date": date(2024, m, 6),
                    "measurement_datetime": datetime(2024, m, 6, 8, 0),
                    "measurement_source_value": "GLU",
                    "value_as_number": v,
                    "unit_source_value": "mmol/L",
                    "abnormal_flag": "H" if v > 6.1 else "N",
                    "src_system": "LIS",
                }
                for i, (m, v) in enumerate([(1, 7.2), (2, 6.8), (3, 6.0)], start=1)
            ],
        )
        tx.write(
            "drug_exposure",
            "his",
            [
                {
                    "drug_exposure_id": 1,
                    "person_id": 1001,
                    "drug_exposure_start_date": date(2024, 3, 3),
                    "drug_source_value": "二甲双胍片",
                    "sig": "0.5g tid",
                    "src_system": "HIS",
                }
            ],
        )
        tx.write(
            "procedure_occurrence",
            "his",
            [
                {
                    "procedure_occurrence_id": 1,
                    "person_id": 1001,
                    "procedure_date": date(2024, 3, 4),
                    "procedure_source_value": "88.7201",
                    "src_system": "HIS",
                }
            ],
        )
        tx.write(
            "note",
            "emr",
            [
                {
                    "note_id": 1,
                    "person_id": 1001,
                    "note_date": date(2024, 3, 2),
                    "note_title": "入院记录",
                    "note_text": "患者男，64岁，因血糖升高入院。",
                    "note_source_value": "入院记录",
                    "src_system": "EMR",
                }
            ],
        )
        tx.write(
            "image_occurrence",
            "pacs",
            [
                {
                    "image_occurrence_id": 1,
                    "person_id": 1001,
                    "image_occurrence_date": date(2024, 3, 4),
                    "modality": "CT",
                    "study_description": "胸部CT",
                    "src_system": "PACS",
                }
            ],
        )
        tx.write(
            "_raw_file",
            "manifest",
            [
                {
                    "sha256": "ab" * 32,
                    "source_path": "his/patients.csv",
                    "source_kind": "his_patients",
                    "size_bytes": 1234,
                    "version": 1,
                    "captured_at": datetime(2024, 4, 1, 12, 0),
                    "rows_read": 4,
                    "rows_written": 3,
                    "rows_quarantined": 1,
                    "run_id": "run-1",
                }
            ],
        )
        tx.write(
            "_quarantine",
            "run-1",
            [
                {
                    "src_system": "HIS",
                    "src_file": "ab" * 32,
                    "source_path": "his/patients.csv",
                    "src_record": "5",
                    "reason": "bad birth date",
                    "raw": "H009,赵六,1,1999-13-40",
                    "run_id": "run-1",
                    "quarantined_at": datetime(2024, 4, 1, 12, 0),
                }
            ],
        )
    if "mpi_review" in TABLES:
        with lake.transaction() as tx:
            tx.write(
                "mpi_review",
                "mpi",
                [
                    {
                        "pair_id": "pair-1",
                        "src_system_l": "HIS",
                        "src_person_id_l": "H003",
                        "src_system_r": "LIS",
                        "src_person_id_r": "L99",
                        "match_probability": 0.62,
                        "reason": "name matches, birth date differs",
                    }
                ],
            )
    runs = data_dir / "runs"
    runs.mkdir(exist_ok=True)
    (runs / "run-1.json").write_text(
        json.dumps({"run_id": "run-1", "status": "ok", "files": 1, "rows_written": 3, "detail": {"x": 1}}),
        encoding="utf-8",
    )
    return data_dir
