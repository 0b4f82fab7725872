"""Benchmark: build, de-identify, package and release-scan a dataset of N patients × 50 variables.

A lake of that size is generated here (no synthetic-hospital run of 100k patients is needed):
person, location, registry identities (source_person + person_link), visits, diagnoses, labs and
drugs, written as Parquet parts through ``medlake.cdm.Lake``. The timed part is exactly what
``medlake export build`` does after approval (``medlake.export.pipeline.release``).

    .venv/bin/python benchmarks/export_build.py --patients 100000 --threads 2
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from datetime import date
from pathlib import Path

import numpy as np
import pyarrow as pa

from medlake.cdm.lake import Lake
from medlake.export.pipeline import release
from medlake.export.spec import DatasetSpec
from medlake.privacy.recognisers import id_check_digit

CITIES = [
    ("浙江省", "杭州市"),
    ("浙江省", "宁波市"),
    ("浙江省", "温州市"),
    ("江苏省", "南京市"),
    ("江苏省", "苏州市"),
    ("上海市", "上海市"),
    ("北京市", "北京市"),
    ("广东省", "广州市"),
    ("广东省", "深圳市"),
    ("湖北省", "武汉市"),
]
SURNAMES = list("王李张刘陈杨黄赵吴周徐孙马朱胡郭何林高罗")
GIVEN = list("伟芳娜敏静秀丽强磊军洋勇艳杰娟涛明超霞平")
ICD = [
    "E11",
    "I10",
    "C50",
    "J18",
    "K80",
    "N39",
    "I25",
    "I50",
    "J44",
    "E78",
    "N18",
    "K29",
    "M54",
    "F32",
    "G45",
    "I63",
]
LABS = ["GLU", "HBA1C", "CREA", "ALT", "HGB"]
DRUGS = ["MET500", "INS100", "AML5", "ATO20", "ASP100"]


def generate(data_dir: Path, n: int, seed: int = 1) -> dict[str, int]:
    rng = np.random.default_rng(seed)
    pid = np.arange(1, n + 1, dtype=np.int64)
    birth = np.datetime64("1930-01-01") + rng.integers(0, 365 * 75, n).astype("timedelta64[D]")
    sex = rng.integers(1, 3, n)
    city_idx = rng.integers(0, len(CITIES), n)
    index = np.datetime64("2021-01-01") + rng.integers(0, 900, n).astype("timedelta64[D]")
    years = birth.astype("datetime64[Y]").astype(int) + 1970
    person = pa.table(
        {
            "person_id": pid,
            "gender_concept_id": np.where(sex == 1, 8507, 8532).astype(np.int32),
            "year_of_birth": years.astype(np.int32),
            "birth_datetime": pa.array(birth.astype("datetime64[us]")),
            "location_id": (city_idx + 1).astype(np.int64),
            "person_source_value": pa.array([f"H{i:08d}" for i in pid]),
            "gender_source_value": pa.array(sex.astype(str)),
            "ethnicity_source_value": pa.array(np.where(rng.random(n) < 0.9, "01", "03")),
        }
    )
    location = pa.table(
        {
            "location_id": np.arange(1, len(CITIES) + 1, dtype=np.int64),
            "city": [c for _, c in CITIES],
            "state": [p for p, _ in CITIES],
        }
    )
    names = [SURNAMES[a] + GIVEN[b] + GIVEN[c] for a, b, c in rng.integers(0, 20, (n, 3))]
    bstr = np.datetime_as_string(birth).tolist()
    ids = []
    for i, b in enumerate(bstr):
        first17 = f"330106{b.replace('-', '')}{i % 1000:03d}"
        ids.append(first17 + id_check_digit(first17))
    phones = [f"13{d}{x:08d}" for d, x in zip(rng.integers(0, 10, n), rng.integers(0, 10**8, n), strict=True)]
    addresses = [
        f"{CITIES[c][0]}{CITIES[c][1]}某区人民路{h}号{r}室"
        for c, h, r in zip(city_idx, rng.integers(1, 500, n), rng.integers(101, 2000, n), strict=True)
    ]
    reg = [f"H{i:08d}" for i in pid]
    source_person = pa.table(
        {
            "src_system": ["HIS"] * n,
            "src_person_id": reg,
            "name": names,
            "resident_id": ids,
            "phone": phones,
            "address": addresses,
        }
    )
    person_link = pa.table({"src_system": ["HIS"] * n, "src_person_id": reg, "person_id": pid})
    visits = pa.table(
        {
            "visit_occurrence_id": pid,
            "person_id": pid,
            "visit_start_date": pa.array(index),
            "visit_end_date": pa.array(index),
        }
    )
    m = n * 4
    cp = rng.integers(1, n + 1, m)
    conds = pa.table(
        {
            "condition_occurrence_id": np.arange(m, dtype=np.int64),
            "person_id": cp,
            "condition_start_date": pa.array(
                index[cp - 1] - rng.integers(0, 700, m).astype("timedelta64[D]")
            ),
            "condition_source_value": pa.array([f"{ICD[k]}.900" for k in rng.integers(0, len(ICD), m)]),
        }
    )
    k = n * 15
    lp = rng.integers(1, n + 1, k)
    ldates = index[lp - 1] - rng.integers(0, 400, k).astype("timedelta64[D]")
    labs = pa.table(
        {
            "measurement_id": np.arange(k, dtype=np.int64),
            "person_id": lp,
            "measurement_date": pa.array(ldates),
            "measurement_datetime": pa.array(ldates.astype("datetime64[us]")),
            "measurement_source_value": pa.array(np.array(LABS)[rng.integers(0, len(LABS), k)]),
            "value_as_number": rng.normal(6, 2, k),
        }
    )
    d = n * 3
    dp = rng.integers(1, n + 1, d)
    drugs = pa.table(
        {
            "drug_exposure_id": np.arange(d, dtype=np.int64),
            "person_id": dp,
            "drug_exposure_start_date": pa.array(
                index[dp - 1] - rng.integers(0, 400, d).astype("timedelta64[D]")
            ),
            "drug_source_value": pa.array(np.array(DRUGS)[rng.integers(0, len(DRUGS), d)]),
        }
    )
    tables = {
        "person": person,
        "location": location,
        "source_person": source_person,
        "person_link": person_link,
        "visit_occurrence": visits,
        "condition_occurrence": conds,
        "measurement": labs,
        "drug_exposure": drugs,
    }
    lake = Lake(data_dir).ensure()
    with lake.transaction() as tx:
        for name, table in tables.items():
            tx.write(name, "bench", table)
    return {name: t.num_rows for name, t in tables.items()}


def spec() -> DatasetSpec:
    variables: list[dict[str, object]] = [
        {"type": "demographic", "name": "age", "field": "age"},
        {"type": "demographic", "name": "sex", "field": "sex"},
        {"type": "demographic", "name": "city", "field": "city"},
        {"type": "demographic", "name": "ethnicity", "field": "ethnicity"},
    ]
    variables += [
        {
            "type": "condition",
            "name": f"dx_{c.lower()}",
            "codes": [c],
            "window": {"start_days": -730, "end_days": 0},
        }
        for c in ICD
    ]
    variables += [
        {"type": "lab", "name": lab.lower(), "codes": [lab], "window": {"start_days": -365, "end_days": 0}}
        for lab in LABS
    ]
    variables += [
        {"type": "drug", "name": f"rx_{dr.lower()}", "codes": [dr], "output": "count"} for dr in DRUGS
    ]
    return DatasetSpec.model_validate(
        {
            "name": "bench",
            "project": "bench",
            "cohort": {"kind": "filter"},
            "variables": variables,
            "deid": {"k": 5},
        }
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--patients", type=int, default=100_000)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--formats", default="parquet,csv")
    ap.add_argument("--keep", type=Path, default=None, help="keep the data dir here")
    args = ap.parse_args()
    root = args.keep or Path(tempfile.mkdtemp(prefix="medlake-export-bench-"))
    t0 = time.perf_counter()
    rows = generate(root, args.patients)
    t_gen = time.perf_counter() - t0
    s = spec()
    steps: list[tuple[str, float]] = []
    t1 = time.perf_counter()
    c1 = time.process_time()
    info = release(
        s,
        data_dir=root,
        dest=root / "exports" / "bench",
        formats=args.formats.split(","),
        progress=lambda msg: steps.append((msg, time.perf_counter())),
        threads=args.threads,
    )
    total = time.perf_counter() - t1
    cpu = time.process_time() - c1
    marks = [(m, t - t1) for m, t in steps]
    report = json.loads((info.path / "deid_report.json").read_text(encoding="utf-8"))
    out = {
        "date": date.today().isoformat(),
        "patients": args.patients,
        "variables_out": len(
            [
                c
                for c in info.path.joinpath("data_dictionary.csv")
                .read_text(encoding="utf-8-sig")
                .splitlines()[1:]
            ]
        ),
        "input_rows": rows,
        "generate_s": round(t_gen, 1),
        "build_deid_package_scan_s": round(total, 1),
        "build_deid_package_scan_cpu_s": round(cpu, 1),
        "steps_s": [(m, round(t, 1)) for m, t in marks],
        "rows_out": info.rows,
        "k": report["k_anonymity"]["k"],
        "k_levels": report["k_anonymity"]["levels"],
        "rows_suppressed": report["k_anonymity"]["rows_suppressed"],
        "smallest_class": report["k_anonymity"]["smallest_class"],
        "scan_clean": info.scan.clean,
        "files": info.files,
    }
    print(json.dumps(out, ensure_ascii=False, indent=2))


if __name__ == "__main__":
    main()
