"""Synthetic hospital tables for the cohort and search benchmarks, generated directly in DuckDB.

Used when no 1M-patient lake from ``medlake synth`` is at hand (generating and ingesting one takes
hours on 2 cores). Sizes per patient follow a Chinese tertiary hospital's research data centre:
~3 visits, ~5 diagnoses, ~12 lab results, ~1 clinical note (150-350 characters), ~3 NLP facts,
0.4 imaging series per patient. Breast cancer (C50) in ~1.2 % of patients, with receptor status
(ER+ 70 %, PR+ mostly with ER+, HER2 IHC 0/1+/2+/3+ = 30/30/22/18 %, 2+ FISH-amplified 35 %),
diabetes (E11) 10 %, hypertension (I10) 20 %, and lung metastases on the follow-up chest CT
report in 12 % of breast cancer patients. Fixed seed; columns follow the lake schema.

    .venv/bin/python benchmarks/cohort_synth.py --patients 1000000 --out /tmp/ml-bench-1m
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import duckdb

from medlake.cdm.lake import Lake
from medlake.cdm.schema import duckdb_columns

FINDINGS_NORMAL = [
    "双肺纹理清晰，走行自然，双肺未见明显实质性病变。",
    "纵隔居中，未见肿大淋巴结。双侧胸腔未见积液。",
    "胸廓对称，气管居中。双肺野清晰，未见明显结节及渗出影。",
    "心影大小形态正常，主动脉壁未见钙化。",
    "肝脏形态大小正常，实质密度均匀，未见异常强化灶。",
    "所见骨质未见明显破坏。",
]
FINDINGS_METS = [
    "双肺见多发大小不等结节影，边界清，最大者位于右肺下叶，直径约12mm。",
    "双肺可见散在多发类圆形结节，部分边缘光整，大者约9mm，位于左肺上叶。",
]
IMPRESSIONS_NORMAL = ["双肺未见明显异常。", "胸部CT平扫未见明显异常，建议随诊。"]
IMPRESSIONS_METS = ["双肺多发结节，考虑转移。", "双肺多发结节，结合病史，考虑肺转移瘤，请结合临床。"]
HISTORY = [
    "患者因体检发现血糖升高就诊。",
    "既往高血压病史10年，规律服用硝苯地平。",
    "否认糖尿病史，否认冠心病史。",
    "患者3天前无明显诱因出现咳嗽、咳痰，伴低热。",
    "查体：神志清，精神可，双肺呼吸音清。",
    "入院后完善相关检查，予抗感染、化痰等对症治疗。",
    "患者一般情况可，饮食睡眠可，大小便正常。",
    "术后恢复良好，切口愈合佳，予出院。",
    "既往2型糖尿病史5年，口服二甲双胍。",
    "左乳外上象限可触及一肿块，质硬，活动度差。",
]


def _list(values: list[str]) -> str:
    return "[" + ", ".join("'" + v.replace("'", "''") + "'" for v in values) + "]"


def _pick(values: list[str], seed_expr: str) -> str:
    return f"list_extract({_list(values)}, CAST(floor({seed_expr} * {len(values)}) AS INTEGER) + 1)"


def _conform(con: duckdb.DuckDBPyConnection, table: str, select: str) -> str:
    present = {r[0] for r in con.execute(f"DESCRIBE {select}").fetchall()}
    cols = duckdb_columns(table)
    return (
        "SELECT "
        + ", ".join(
            f'CAST({chr(34) + c + chr(34) if c in present else "NULL"} AS {t}) AS "{c}"' for c, t in cols
        )
        + f" FROM ({select}) S"
    )


def _hash01(expr: str, salt: int) -> str:
    """A deterministic pseudo-random number in [0, 1) from an integer expression."""
    return f"((hash(({expr}) * 7919 + {salt}) % 1000003) / 1000003.0)"


def generate(
    out: Path, patients: int, *, note_parts: int = 10, threads: int | None = None
) -> dict[str, float]:
    lake = Lake(out)
    lake.ensure()
    con = duckdb.connect(":memory:")
    if threads:
        con.execute(f"SET threads={threads}")
    con.execute("SET preserve_insertion_order=false")
    n = int(patients)
    timings: dict[str, float] = {}

    def write(table: str, select: str, part: str = "bench") -> None:
        t0 = time.perf_counter()
        folder = lake.table_dir(table)
        folder.mkdir(parents=True, exist_ok=True)
        path = str(folder / f"{part}.parquet").replace("'", "''")
        con.execute(
            f"COPY ({_conform(con, table, select)}) TO '{path}' (FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE 122880)"
        )
        timings[f"{table}/{part}"] = time.perf_counter() - t0

    r = _hash01
    con.execute(
        f"""CREATE TABLE pat AS SELECT i AS person_id,
            CASE WHEN {r("i", 1)} < 0.52 THEN 8532 ELSE 8507 END AS gender_concept_id,
            1930 + CAST(floor({r("i", 2)} * 80) AS INTEGER) AS year_of_birth,
            DATE '2012-01-01' + CAST(floor({r("i", 3)} * 3000) AS INTEGER) AS index_date,
            {r("i", 4)} AS u_bc, {r("i", 5)} AS u_dm, {r("i", 6)} AS u_htn, {r("i", 7)} AS u_er, {r("i", 8)} AS u_pr,
            {r("i", 9)} AS u_her2, {r("i", 10)} AS u_fish, {r("i", 11)} AS u_mets
        FROM range(1, {n} + 1) t(i)"""
    )
    con.execute(
        """CREATE TABLE bc AS SELECT *, u_er < 0.7 AS er, CASE WHEN u_er < 0.7 THEN u_pr < 0.8 ELSE u_pr < 0.1 END AS pr,
            CASE WHEN u_her2 < 0.30 THEN '0' WHEN u_her2 < 0.60 THEN '1+' WHEN u_her2 < 0.82 THEN '2+' ELSE '3+' END AS her2_ihc,
            u_mets < 0.12 AS mets
        FROM pat WHERE u_bc < 0.012 AND gender_concept_id = 8532"""
    )
    write(
        "person",
        "SELECT person_id, gender_concept_id, year_of_birth, CAST(person_id AS VARCHAR) AS person_source_value, 'bench' AS src_system FROM pat",
    )
    write(
        "observation_period",
        "SELECT person_id AS observation_period_id, person_id, DATE '2010-01-01' AS observation_period_start_date, DATE '2024-12-31' AS observation_period_end_date, 32817 AS period_type_concept_id FROM pat",
    )
    write(
        "visit_occurrence",
        f"""SELECT person_id * 10 + k AS visit_occurrence_id, person_id,
            CASE WHEN {r("person_id * 10 + k", 12)} < 0.2 THEN 9201 WHEN {r("person_id * 10 + k", 13)} < 0.1 THEN 9203 ELSE 9202 END AS visit_concept_id,
            index_date + CAST(k * 45 AS INTEGER) AS visit_start_date, index_date + CAST(k * 45 + 3 AS INTEGER) AS visit_end_date, 32817 AS visit_type_concept_id,
            1 + CAST(floor({r("person_id * 10 + k", 14)} * 40) AS INTEGER) AS care_site_id
        FROM pat, range(0, 3) v(k)""",
    )
    icd = [
        "J18.900",
        "K29.700",
        "M54.500",
        "R51.x00",
        "J06.900",
        "N39.000",
        "I25.100",
        "E78.500",
        "K80.100",
        "M17.900",
        "I63.900",
        "J44.900",
        "K21.000",
        "D64.900",
        "E03.900",
        "N18.900",
        "I48.x00",
        "G47.000",
        "H25.900",
        "L30.900",
    ]
    write(
        "condition_occurrence",
        f"""SELECT person_id * 16 + k AS condition_occurrence_id, person_id, 0 AS condition_concept_id,
                index_date + CAST(k * 37 - 200 AS INTEGER) AS condition_start_date, 32817 AS condition_type_concept_id,
                {_pick(icd, r("person_id * 16 + k", 15))} AS condition_source_value, person_id * 10 AS visit_occurrence_id
            FROM pat, range(0, 4) v(k)
            UNION ALL SELECT person_id * 16 + 10, person_id, 0, index_date - 400, 32817, 'E11.900', NULL FROM pat WHERE u_dm < 0.10
            UNION ALL SELECT person_id * 16 + 11, person_id, 0, index_date - 500, 32817, 'I10.x00', NULL FROM pat WHERE u_htn < 0.20
            UNION ALL SELECT person_id * 16 + 12, person_id, 0, index_date, 32817, 'C50.900', person_id * 10 FROM bc""",
    )
    routine = [
        ("1001", "WBC", 3.5, 9.5),
        ("1002", "RBC", 3.8, 5.8),
        ("1003", "HGB", 115, 175),
        ("2001", "ALT", 7, 40),
        ("2002", "AST", 13, 35),
        ("3001", "CREA", 41, 111),
        ("3002", "BUN", 2.6, 7.5),
        ("4001", "GLU", 3.9, 6.1),
        ("4002", "HbA1c", 4.0, 6.0),
        ("5001", "TC", 2.8, 5.2),
        ("5002", "TG", 0.5, 1.7),
        ("6001", "CRP", 0, 10),
    ]
    values = " UNION ALL ".join(
        f"SELECT {i} AS k, '{c}' AS code, {lo} AS lo, {hi} AS hi" for i, (c, _, lo, hi) in enumerate(routine)
    )
    write(
        "measurement",
        f"""SELECT person_id * 32 + L.k AS measurement_id, person_id, 0 AS measurement_concept_id,
                index_date + 1 AS measurement_date, 44818702 AS measurement_type_concept_id,
                round(lo + (hi - lo) * (1.3 * {r("person_id * 32 + L.k", 16)} - 0.1), 2) AS value_as_number,
                lo AS range_low, hi AS range_high, L.code AS measurement_source_value,
                CAST(round(lo + (hi - lo) * (1.3 * {r("person_id * 32 + L.k", 16)} - 0.1), 2) AS VARCHAR) AS value_source_value,
                CASE WHEN (1.3 * {r("person_id * 32 + L.k", 16)} - 0.1) > 1 THEN 'H' WHEN (1.3 * {r("person_id * 32 + L.k", 16)} - 0.1) < 0 THEN 'L' ELSE 'N' END AS abnormal_flag
            FROM pat, ({values}) L
            UNION ALL SELECT person_id * 32 + 20, person_id, 0, index_date + 2, 44818702, NULL, NULL, NULL, '7001',
                CASE WHEN er THEN '阳性(80%,强)' ELSE '阴性' END, NULL FROM bc
            UNION ALL SELECT person_id * 32 + 21, person_id, 0, index_date + 2, 44818702, NULL, NULL, NULL, '7002',
                CASE WHEN pr THEN '阳性(40%,中等)' ELSE '阴性' END, NULL FROM bc
            UNION ALL SELECT person_id * 32 + 22, person_id, 0, index_date + 2, 44818702, NULL, NULL, NULL, '7003', her2_ihc, NULL FROM bc
            UNION ALL SELECT person_id * 32 + 23, person_id, 0, index_date + 5, 44818702, NULL, NULL, NULL, '7005',
                CASE WHEN u_fish < 0.35 THEN '扩增 (HER2/CEP17比值 2.6)' ELSE '无扩增 (HER2/CEP17比值 1.3)' END, NULL FROM bc WHERE her2_ihc = '2+'""",
    )
    # notes: one per patient (admission/progress), plus a chest CT report for 40 % of patients and every breast cancer patient
    hist = " || ".join(_pick(HISTORY, r(f"person_id * 13 + {j}", 20 + j)) for j in range(5))
    write_notes = []
    imaging = f"""SELECT person_id, person_id * 4 + 1 AS note_id, index_date + 90 AS d,
            {_pick(FINDINGS_NORMAL, r("person_id", 30))} || {_pick(FINDINGS_NORMAL, r("person_id", 31))} ||
            {_pick(FINDINGS_NORMAL, r("person_id", 32))} || '印象：' || {_pick(IMPRESSIONS_NORMAL, r("person_id", 33))} AS t, FALSE AS mets
        FROM pat WHERE {r("person_id", 34)} < 0.4 AND NOT (u_bc < 0.012 AND gender_concept_id = 8532)
        UNION ALL SELECT person_id, person_id * 4 + 1, index_date + 90,
            CASE WHEN mets THEN {_pick(FINDINGS_METS, r("person_id", 35))} || {_pick(FINDINGS_NORMAL, r("person_id", 31))} || '印象：' || {_pick(IMPRESSIONS_METS, r("person_id", 36))}
            ELSE {_pick(FINDINGS_NORMAL, r("person_id", 30))} || {_pick(FINDINGS_NORMAL, r("person_id", 31))} || '印象：' || {_pick(IMPRESSIONS_NORMAL, r("person_id", 33))} END, mets
        FROM bc"""
    con.execute(f"CREATE TABLE img AS {imaging}")
    clinical = f"SELECT person_id, person_id * 4 AS note_id, index_date AS d, {hist} AS t FROM pat"
    for part in range(note_parts):
        lo, hi = part * n // note_parts + 1, (part + 1) * n // note_parts
        write(
            "note",
            f"""SELECT note_id, person_id, d AS note_date, 32831 AS note_type_concept_id, '入院记录' AS note_title, t AS note_text,
                    person_id * 10 AS visit_occurrence_id, '入院记录' AS note_source_value FROM ({clinical}) C WHERE person_id BETWEEN {lo} AND {hi}
                UNION ALL SELECT note_id, person_id, d, 32831, '胸部CT平扫', t, person_id * 10 + 2, '影像报告' FROM img WHERE person_id BETWEEN {lo} AND {hi}""",
            part=f"bench-{part:02d}",
        )
        write_notes.append(part)
    write(
        "image_occurrence",
        """SELECT note_id AS image_occurrence_id, person_id, d AS image_occurrence_date, 'CT' AS modality, 'CHEST' AS anatomic_site_source_value,
            'A' || CAST(note_id AS VARCHAR) AS accession_number, note_id, person_id * 10 + 2 AS visit_occurrence_id FROM img""",
    )
    write(
        "note_nlp",
        """SELECT note_id * 8 + 1 AS note_nlp_id, note_id, person_id, '肺转移瘤' AS lexical_variant, 'C78.000' AS concept_code,
                '疾病和诊断' AS entity_type, 'possible' AS assertion, d AS nlp_date FROM img WHERE mets
            UNION ALL SELECT person_id * 32 + 2, person_id * 4, person_id, '糖尿病', 'E11.900', '疾病和诊断',
                CASE WHEN u_dm < 0.10 THEN 'present' ELSE 'negated' END, index_date FROM pat WHERE u_dm < 0.25
            UNION ALL SELECT person_id * 32 + 3, person_id * 4, person_id, '高血压', 'I10.x00', '疾病和诊断',
                CASE WHEN u_htn < 0.22 THEN 'present' ELSE 'negated' END, index_date FROM pat WHERE u_htn < 0.45
            UNION ALL SELECT person_id * 32 + 4, person_id * 4, person_id, '咳嗽', NULL, '症状和体征', 'present', index_date FROM pat WHERE u_dm > 0.5""",
    )
    con.close()
    lake.refresh_catalog()
    return timings


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--patients", type=int, default=1_000_000)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--threads", type=int, default=None)
    args = ap.parse_args()
    t0 = time.perf_counter()
    timings = generate(args.out, args.patients, threads=args.threads)
    lake = Lake(args.out)
    for table in (
        "person",
        "visit_occurrence",
        "condition_occurrence",
        "measurement",
        "note",
        "note_nlp",
        "image_occurrence",
    ):
        print(f"{table:22s} {lake.count(table):>12,} rows")
    print(f"generated in {time.perf_counter() - t0:.1f} s ({sum(timings.values()):.1f} s writing)")


if __name__ == "__main__":
    main()
