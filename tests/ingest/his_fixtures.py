"""Tiny HIS/EMR exports written in code, including one file with every kind of broken row."""

from __future__ import annotations

import json
from pathlib import Path

from medlake.ingest.fields import resident_id_check_digit


def rid(first17: str) -> str:
    return first17 + resident_id_check_digit(first17)


GOOD_ID = rid("11010519700102001")
BAD_CHECK_ID = GOOD_ID[:-1] + ("0" if GOOD_ID[-1] != "0" else "1")

PATIENT_HEADER = "登记号,姓名,性别代码,出生日期,身份证号,手机号,地址,民族代码"


def write_hospital(root: Path) -> Path:
    his = root / "his"
    emr = root / "emr"
    his.mkdir(parents=True)
    emr.mkdir(parents=True)
    (his / "patients.csv").write_text(
        "\n".join(
            [
                PATIENT_HEADER,
                f"H001,张三,1,1970-01-02,{GOOD_ID},13800000000,北京市朝阳区幸福路1号,01",
                "H002,李四,2,1985-06-30,,13900000001,广东省广州市天河区体育西路2号,01",
                "H003,王芳,2,1992-11-11,,,浙江省杭州市西湖区文三路3号,03",
            ]
        )
        + "\n",
        encoding="utf-8-sig",
    )
    visits = (
        "就诊号,登记号,就诊类型,科室代码,科室名称,入院时间,出院时间,离院方式\n"
        "V1,H001,住院,D01,心血管内科,2020-01-01 08:00:00,2020-01-05 10:00:00,医嘱离院\n"
        "V2,H002,门诊,D02,内分泌科,2021-03-01 09:00:00,,\n"
        "V3,H003,急诊,D03,急诊科,2022-07-15 23:10:00,2022-07-16 02:00:00,医嘱离院\n"
    )
    (his / "visits.csv").write_bytes(visits.encode("gbk"))
    (his / "diagnoses.csv").write_bytes(
        (
            "诊断序号,就诊号,登记号,诊断编码,诊断名称,诊断类型,诊断时间\n"
            "1,V1,H001,I10.x00,高血压,主要诊断,2020-01-01 09:00:00\n"
            "2,V2,H002,E11.900,2型糖尿病,主要诊断,2021-03-01 09:30:00\n"
            "3,V3,H003,T20.200,头颈部二度烧伤,主要诊断,2022-07-15 23:30:00\n"
        ).encode("gbk")
    )
    (his / "operations.csv").write_bytes(
        "手术序号,就诊号,登记号,手术编码,手术名称,手术日期,术者,麻醉方式\nOP1,V1,H001,36.0601,冠状动脉支架置入术,2020-01-02,李医生,局麻\n".encode(
            "gbk"
        )
    )
    (his / "departments.csv").write_text(
        "科室代码,科室名称\nD01,心血管内科\nD02,内分泌科\nD03,急诊科\n", encoding="utf-8"
    )
    (his / "drug_admin.csv").write_text(
        "给药序号,医嘱号,就诊号,登记号,药品编码,药品名称,剂量,剂量单位,给药时间\n"
        "A1,O1,V1,H001,YP001,阿司匹林肠溶片,100,mg,2020-01-01 12:00:00\n",
        encoding="utf-8",
    )
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.append(
        [
            "医嘱号",
            "就诊号",
            "登记号",
            "药品编码",
            "药品名称",
            "单次剂量",
            "剂量单位",
            "给药途径",
            "频次",
            "开始时间",
            "停止时间",
        ]
    )
    ws.append(
        [
            "O1",
            "V1",
            "H001",
            "YP001",
            "阿司匹林肠溶片",
            100,
            "mg",
            "口服",
            "qd",
            "2020-01-01 08:30:00",
            "2020-01-05 08:00:00",
        ]
    )
    ws.append(
        ["O2", "V2", "H002", "YP002", "二甲双胍片", 0.5, "g", "口服", "bid", "2021-03-01 10:00:00", None]
    )
    wb.save(his / "drug_orders.xlsx")
    notes = [
        {
            "doc_id": "DOC1",
            "patient_id": "H001",
            "visit_no": "V1",
            "doc_type": "入院记录",
            "doc_time": "2020-01-01 10:00:00",
            "title": "入院记录",
            "author": "李医生",
            "accession_no": None,
            "text": "患者张三，男，50岁，因头晕3天入院。否认糖尿病史。血压160/95mmHg。",
        },
        {
            "doc_id": "DOC2",
            "patient_id": "H003",
            "visit_no": "V3",
            "doc_type": "影像报告",
            "doc_time": "2022-07-16 01:00:00",
            "title": "胸部CT",
            "author": "周医生",
            "accession_no": "ACC0001",
            "text": "双肺纹理清晰，未见明显实质性病变。",
        },
    ]
    (emr / "notes-2020.jsonl").write_text(
        "\n".join(json.dumps(n, ensure_ascii=False) for n in notes) + "\n", encoding="utf-8"
    )
    return root


def write_broken_patients(path: Path) -> None:
    """One good row and one row per failure kind: bad date, wrong column count, bad check digit, bad bytes."""
    lines = [
        PATIENT_HEADER.encode("gbk"),
        f"H100,周好,1,1960-02-03,{GOOD_ID},13700000000,江苏省南京市鼓楼区1号,01".encode("gbk"),
        "H101,吴坏日,2,1960-02-30,,13700000001,江苏省南京市,01".encode("gbk"),
        "H102,郑多列,1,1960-02-03,,13700000002,江苏省南京市,01,多余".encode("gbk"),
        f"H103,冯校验,1,1960-02-03,{BAD_CHECK_ID},13700000003,江苏省南京市,01".encode("gbk"),
        "H104,陈".encode("gbk") + b"\xff\xfe" + ",1,1960-02-03,,13700000004,江苏省南京市,01".encode("gbk"),
        "H105,褚良,2,1961-03-04,,13700000005,江苏省苏州市姑苏区2号,01".encode("gbk"),
    ]
    path.write_bytes(b"\r\n".join(lines) + b"\r\n")
