"""A tiny synthetic lake (fixed seed): registry identities, visits, diagnoses, labs, drugs and notes."""

from __future__ import annotations

import random
from datetime import date, datetime, timedelta
from pathlib import Path

from medlake.cdm.lake import Lake
from medlake.privacy.recognisers import id_check_digit

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林高罗"
GIVEN = "伟芳娜敏静秀丽强磊军洋勇艳杰娟涛明超霞平"
CITIES = [("浙江省", "杭州市"), ("浙江省", "宁波市"), ("江苏省", "南京市")]
STREETS = ["人民路", "解放路", "中山路"]


def resident_id(rng: random.Random, birth: date) -> str:
    first17 = f"330106{birth:%Y%m%d}{rng.randint(0, 999):03d}"
    return first17 + id_check_digit(first17)


def make_rows(n: int, seed: int = 7) -> dict[str, list[dict[str, object]]]:
    rng = random.Random(seed)
    rows: dict[str, list[dict[str, object]]] = {
        k: []
        for k in (
            "person",
            "location",
            "person_link",
            "source_person",
            "visit_occurrence",
            "condition_occurrence",
            "measurement",
            "drug_exposure",
            "note",
        )
    }
    for i in range(1, n + 1):
        pid = 1000 + i
        sex = rng.choice(["1", "2"])
        birth = date(1930, 1, 1) + timedelta(days=rng.randint(0, 365 * 70))
        province, city = CITIES[i % len(CITIES)]
        name = rng.choice(SURNAMES) + rng.choice(GIVEN) + rng.choice(GIVEN)
        relative = rng.choice(SURNAMES) + rng.choice(GIVEN) + rng.choice(GIVEN)
        rid = resident_id(rng, birth)
        phone = f"13{rng.randint(0, 9)}{rng.randint(10_000_000, 99_999_999)}"
        address = f"{province}{city}西湖区{rng.choice(STREETS)}{rng.randint(1, 300)}号{rng.randint(1, 20)}栋{rng.randint(101, 1202)}室"
        reg = f"H{i:08d}"
        rows["location"].append({"location_id": pid, "city": city, "state": province})
        rows["person"].append(
            {
                "person_id": pid,
                "gender_concept_id": 8507 if sex == "1" else 8532,
                "year_of_birth": birth.year,
                "month_of_birth": birth.month,
                "day_of_birth": birth.day,
                "birth_datetime": datetime(birth.year, birth.month, birth.day),
                "location_id": pid,
                "person_source_value": reg,
                "gender_source_value": sex,
                "ethnicity_source_value": "01",
            }
        )
        rows["person_link"].append({"src_system": "HIS", "src_person_id": reg, "person_id": pid})
        rows["source_person"].append(
            {
                "src_system": "HIS",
                "src_person_id": reg,
                "name": name,
                "sex": sex,
                "birth_date": birth,
                "resident_id": rid,
                "phone": phone,
                "address": address,
            }
        )
        visit = date(2022, 1, 1) + timedelta(days=rng.randint(0, 600))
        rows["visit_occurrence"].append(
            {
                "visit_occurrence_id": pid * 10,
                "person_id": pid,
                "visit_start_date": visit,
                "visit_end_date": visit,
            }
        )
        if i % 2 == 0:
            rows["condition_occurrence"].append(
                {
                    "condition_occurrence_id": pid * 10 + 1,
                    "person_id": pid,
                    "condition_start_date": visit,
                    "condition_source_value": "E11.900",
                }
            )
        for j in range(3):
            d = visit - timedelta(days=30 * j)
            rows["measurement"].append(
                {
                    "measurement_id": pid * 100 + j,
                    "person_id": pid,
                    "measurement_date": d,
                    "measurement_datetime": datetime(d.year, d.month, d.day, 8),
                    "measurement_source_value": "HBA1C",
                    "value_as_number": 5.0 + j + (i % 5) / 10,
                    "unit_source_value": "%",
                }
            )
        if i % 3 == 0:
            rows["drug_exposure"].append(
                {
                    "drug_exposure_id": pid * 10 + 2,
                    "person_id": pid,
                    "drug_exposure_start_date": visit,
                    "drug_source_value": "MET500",
                }
            )
        text = (
            f"患者{name}，{'男' if sex == '1' else '女'}，因多饮多尿3年于{visit:%Y年%-m月%-d日}入院。"
            f"身份证号{rid}，联系电话{phone}，家住{address}。登记号：{reg}。"
            f"其子{relative}陪同，联系人：{relative}（电话{phone[:3]}-{phone[3:7]}-{phone[7:]}）。"
            f"既往有2型糖尿病病史，空腹血糖8.2mmol/L。"
        )
        rows["note"].append(
            {
                "note_id": pid * 10 + 3,
                "person_id": pid,
                "note_date": visit,
                "note_title": "入院记录",
                "note_text": text,
                "note_source_value": "入院记录",
            }
        )
    return rows


def write_lake(data_dir: Path, n: int, seed: int = 7) -> Lake:
    lake = Lake(data_dir).ensure()
    rows = make_rows(n, seed)
    with lake.transaction() as tx:
        for table, data in rows.items():
            tx.write(table, "fixture", data)
    return lake
