"""Write a synthetic lake of N patients straight into the lake tables (DuckDB generators), for web benchmarks.

This is a stand-in for ``medlake synth`` + ``medlake ingest`` when that pipeline is not at hand:
the tables have the lake's schema and realistic volumes per patient (visits, diagnoses, labs,
drugs, procedures, notes, images), written one part per table chunk.

    .venv/bin/python benchmarks/web_lake.py --patients 100000 --data-dir /tmp/web-bench
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import duckdb

from medlake.cdm import Lake

CHUNK = 25_000  # patients per part

ICD = [("I10.x00", "高血压"), ("E11.900", "2型糖尿病"), ("J18.900", "肺炎"), ("I25.103", "冠状动脉粥样硬化性心脏病"),
       ("K29.700", "胃炎"), ("C34.900", "肺恶性肿瘤"), ("N18.900", "慢性肾脏病"), ("I63.900", "脑梗死"),
       ("E78.500", "高脂血症"), ("M81.000", "骨质疏松")]  # fmt: skip
LABS = ["GLU", "HBA1C", "CREA", "ALT", "WBC", "HGB", "PLT", "K", "NA", "TC"]
DEPTS = ["心内科", "内分泌科", "呼吸科", "消化科", "肿瘤科", "肾内科", "神经内科", "骨科", "急诊科", "普外科"]


def generate(data_dir: Path, patients: int) -> None:
    lake = Lake(data_dir)
    con = duckdb.connect()
    con.execute("SELECT setseed(0.42)")
    icd = ", ".join(f"('{c}', '{n}')" for c, n in ICD)
    con.execute(f"CREATE TABLE icd AS SELECT * FROM (VALUES {icd}) t(code, name)")
    with lake.transaction() as tx:
        tx.write(
            "care_site", "bench", [{"care_site_id": i + 1, "care_site_name": d} for i, d in enumerate(DEPTS)]
        )
        tx.write(
            "concept",
            "bench",
            [
                {
                    "concept_id": 2_000_000_000 + i,
                    "concept_name": n,
                    "vocabulary_id": "ICD10CN",
                    "concept_code": c,
                }
                for i, (c, n) in enumerate(ICD)
            ],
        )
    for start in range(0, patients, CHUNK):
        stop = min(start + CHUNK, patients)
        t0 = time.monotonic()
        con.execute(f"CREATE OR REPLACE TABLE p AS SELECT range + 1 AS pid FROM range({start}, {stop})")
        parts = {
            "person": """SELECT pid AS person_id, CASE WHEN random() < 0.5 THEN 8507 ELSE 8532 END AS gender_concept_id,
                1930 + CAST(floor(random() * 90) AS INTEGER) AS year_of_birth, 'H' || lpad(CAST(pid AS VARCHAR), 8, '0')
                AS person_source_value, 'HIS' AS src_system FROM p""",
            "source_person": """SELECT 'HIS' AS src_system, 'H' || lpad(CAST(pid AS VARCHAR), 8, '0') AS src_person_id,
                '患者' || CAST(pid AS VARCHAR) AS name, '1' AS sex, DATE '1960-01-01' + CAST(pid % 20000 AS INTEGER) AS birth_date
                FROM p""",
            "person_link": """SELECT 'HIS' AS src_system, 'H' || lpad(CAST(pid AS VARCHAR), 8, '0') AS src_person_id,
                pid AS person_id, 1.0 AS match_probability, 'exact' AS link_method FROM p""",
            "visit_occurrence": """SELECT pid * 100 + g AS visit_occurrence_id, pid AS person_id,
                CASE WHEN random() < 0.2 THEN 9201 WHEN random() < 0.1 THEN 9203 ELSE 9202 END AS visit_concept_id,
                DATE '2018-01-01' + CAST(floor(random() * 2500) AS INTEGER) AS visit_start_date,
                1 + CAST(floor(random() * 10) AS INTEGER) AS care_site_id, 'V' || CAST(pid * 100 + g AS VARCHAR) AS visit_source_value,
                'HIS' AS src_system FROM p, range(8) r(g)""",
            "condition_occurrence": """SELECT pid * 100 + g AS condition_occurrence_id, pid AS person_id,
                DATE '2018-01-01' + CAST(floor(random() * 2500) AS INTEGER) AS condition_start_date,
                i.code AS condition_source_value, 2000000000 + CAST(i.rn AS INTEGER) AS condition_source_concept_id,
                'HIS' AS src_system
                FROM p, range(6) r(g), (SELECT code, row_number() OVER () - 1 AS rn FROM icd) i
                WHERE i.rn = (pid * 7 + g * 3) % 10""",
            "measurement": f"""SELECT pid * 1000 + g AS measurement_id, pid AS person_id,
                TIMESTAMP '2018-01-01' + INTERVAL (CAST(floor(random() * 2500 * 24) AS INTEGER)) HOUR AS measurement_datetime,
                list_extract({LABS!r}, 1 + CAST(g % 10 AS INTEGER)) AS measurement_source_value,
                round(3 + random() * 8, 2) AS value_as_number, 'mmol/L' AS unit_source_value, 'N' AS abnormal_flag,
                'LIS' AS src_system FROM p, range(50) r(g)""",
            "drug_exposure": """SELECT pid * 100 + g AS drug_exposure_id, pid AS person_id,
                DATE '2018-01-01' + CAST(floor(random() * 2500) AS INTEGER) AS drug_exposure_start_date,
                '二甲双胍片' AS drug_source_value, '0.5g tid' AS sig, 'HIS' AS src_system FROM p, range(10) r(g)""",
            "procedure_occurrence": """SELECT pid * 10 + g AS procedure_occurrence_id, pid AS person_id,
                DATE '2018-01-01' + CAST(floor(random() * 2500) AS INTEGER) AS procedure_date,
                '88.7201' AS procedure_source_value, 'HIS' AS src_system FROM p, range(1) r(g)""",
            "note": """SELECT pid * 10 + g AS note_id, pid AS person_id,
                DATE '2018-01-01' + CAST(floor(random() * 2500) AS INTEGER) AS note_date, '入院记录' AS note_title,
                '患者因血糖升高入院，既往高血压病史十年，否认糖尿病家族史。查体：血压 150/90 mmHg。' AS note_text,
                '入院记录' AS note_source_value, 'EMR' AS src_system FROM p, range(3) r(g)""",
            "image_occurrence": """SELECT pid AS image_occurrence_id, pid AS person_id,
                DATE '2018-01-01' + CAST(floor(random() * 2500) AS INTEGER) AS image_occurrence_date, 'CT' AS modality,
                '胸部CT' AS study_description, 'PACS' AS src_system FROM p WHERE pid % 3 = 0""",
        }
        with lake.transaction() as tx:
            for table, sql in parts.items():
                tx.write(table, f"bench-{start:08d}", con.execute(sql).to_arrow_table())
        print(f"patients {start + 1}-{stop}: {time.monotonic() - t0:.1f}s", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--patients", type=int, default=100_000)
    ap.add_argument("--data-dir", type=Path, required=True)
    args = ap.parse_args()
    generate(args.data_dir, args.patients)
    print(Lake(args.data_dir).counts())


if __name__ == "__main__":
    main()
