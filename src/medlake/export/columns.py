"""The output columns a spec produces, with kind, labels, unit and code system (the data dictionary).

One place says which columns a variable expands to (a lab with five statistics is five columns),
what kind each is (which decides its default de-identification action) and how it is described.
"""

from __future__ import annotations

from dataclasses import dataclass

from medlake.export.spec import (
    ConditionVar,
    DatasetSpec,
    Demographic,
    DrugVar,
    LabVar,
    NlpFactVar,
    ProcedureVar,
    Variable,
)


@dataclass(frozen=True)
class Column:
    table: str
    name: str
    kind: str
    type: str  # the dictionary's type: integer, number, text, date, boolean
    label_zh: str
    label_en: str
    unit: str = ""
    code_system: str = ""
    variable: str = ""


_DEMOGRAPHIC: dict[str, tuple[str, str, str, str, str]] = {
    # field: (kind, type, zh, en, unit)
    "age": ("age", "integer", "索引日年龄", "age at index", "岁/years"),
    "sex": ("sex", "text", "性别", "sex", ""),
    "birth_date": ("birth_date", "date", "出生日期", "date of birth", ""),
    "birth_year": ("birth_year", "integer", "出生年份", "year of birth", ""),
    "city": ("city", "text", "城市", "city", ""),
    "province": ("province", "text", "省份", "province", ""),
    "address": ("address", "text", "地址", "address", ""),
    "ethnicity": ("ethnicity", "text", "民族", "ethnicity", ""),
    "death_date": ("date", "date", "死亡日期", "date of death", ""),
    "registry_id": ("record_number", "text", "登记号", "registry number", ""),
}

_STAT_LABELS = {
    "first": ("首次", "first"),
    "last": ("末次", "last"),
    "min": ("最小", "minimum"),
    "max": ("最大", "maximum"),
    "mean": ("均值", "mean"),
    "count": ("次数", "count"),
}

_EVENT_CODE_SYSTEMS = {
    "condition": "ICD-10",
    "procedure": "ICD-9-CM-3",
    "drug": "local drug code",
    "lab": "local lab code",
}


def _window(v: ConditionVar | DrugVar | ProcedureVar | LabVar | NlpFactVar) -> str:
    return f"[{v.window.start_days:+d}, {v.window.end_days:+d}] d"


def variable_columns(v: Variable) -> list[Column]:
    zh = v.label_zh or v.name
    en = v.label_en or v.name.replace("_", " ")
    if isinstance(v, Demographic):
        kind, typ, dzh, den, unit = _DEMOGRAPHIC[v.field]
        return [Column("patients", v.name, kind, typ, v.label_zh or dzh, v.label_en or den, unit, "", v.name)]
    if isinstance(v, LabVar):
        out = []
        for stat in v.stats:
            szh, sen = _STAT_LABELS[stat]
            typ, kind, unit = ("integer", "count", "") if stat == "count" else ("number", "number", v.unit)
            out.append(
                Column(
                    "patients",
                    f"{v.name}_{stat}",
                    kind,
                    typ,
                    f"{zh}（{szh}，{_window(v)}）",
                    f"{en} ({sen}, {_window(v)})",
                    unit,
                    _EVENT_CODE_SYSTEMS["lab"],
                    v.name,
                )
            )
        return out
    system = "NLP (note_nlp)" if isinstance(v, NlpFactVar) else _EVENT_CODE_SYSTEMS[v.type]
    if v.output == "flag":
        typ, kind, szh, sen = "boolean", "flag", "是否", "any"
    elif v.output == "count":
        typ, kind, szh, sen = "integer", "count", "次数", "count"
    else:
        typ, kind, szh, sen = "date", "date", "首次日期", "first date"
    return [
        Column(
            "patients",
            v.name,
            kind,
            typ,
            f"{zh}（{szh}，{_window(v)}）",
            f"{en} ({sen}, {_window(v)})",
            "",
            system,
            v.name,
        )
    ]


FIXED_PATIENT_COLUMNS = [
    Column(
        "patients", "person_id", "person_key", "text", "研究编号（假名）", "study pseudonym of the person"
    ),
    Column("patients", "index_date", "date", "date", "索引日期", "index date"),
]

NOTE_COLUMNS = [
    Column("notes", "person_id", "person_key", "text", "研究编号（假名）", "study pseudonym of the person"),
    Column("notes", "note_id", "record_number", "text", "文书编号（假名）", "pseudonym of the note"),
    Column("notes", "note_date", "date", "date", "文书日期", "note date"),
    Column("notes", "doc_type", "category", "text", "文书类型", "document kind"),
    Column("notes", "note_title", "text", "text", "标题", "title"),
    Column("notes", "note_text", "text", "text", "文书正文（已去标识）", "note text (identifiers scrubbed)"),
]


def spec_columns(spec: DatasetSpec) -> list[Column]:
    """Every column of every table the spec exports, in order."""
    cols = list(FIXED_PATIENT_COLUMNS)
    for v in spec.variables:
        cols.extend(variable_columns(v))
    if spec.notes is not None:
        cols.extend(NOTE_COLUMNS)
    return cols
