"""Typed term lists (built-in, PyCMeKG, ICD-10 names, THUOCL, a hospital's own file) and their loaders.

A lexicon maps a normalised term to ``(type, source, code)`` entries. Data files are parsed strictly:
a line with the wrong number of fields or an unknown type raises ``LexiconError`` naming the line.
PyCMeKG ships a plain pickle of ``{subject: {predicate: [objects]}}``; it is read with an unpickler
that refuses every class, so only dicts, lists and strings can come out of it.
"""

from __future__ import annotations

import csv
import importlib.util
import pickle
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from medlake.errors import LexiconError
from medlake.nlp.textnorm import normalize
from medlake.nlp.types import ANATOMY, DISEASE, DRUG, ENTITY_TYPES, IMAGING, LAB, OPERATION, SYMPTOM

DATA = resources.files("medlake.nlp") / "data"

_IMAGING_HINTS = (
    "CT",
    "MRI",
    "MR",
    "X线",
    "X射线",
    "超声",
    "B超",
    "彩超",
    "造影",
    "扫描",
    "摄片",
    "胸片",
    "平片",
    "PET",
    "ECT",
    "显像",
)
_LAB_HINTS = (
    "测定",
    "计数",
    "试验",
    "检测",
    "抗体",
    "抗原",
    "浓度",
    "培养",
    "镜检",
    "定量",
    "蛋白",
    "酶",
    "素",
    "常规",
    "功能",
)


_SYMPTOM_HINTS = tuple(
    [
        "痛",
        "热",
        "烧",
        "咳",
        "痰",
        "喘",
        "痒",
        "肿",
        "胀",
        "血",
        "吐",
        "呕",
        "泻",
        "便秘",
        "晕",
        "闷",
        "麻",
        "乏",
        "无力",
        "汗",
        "疹",
        "难",
        "障碍",
        "异常",
        "增多",
        "减少",
        "减退",
        "不适",
        "困难",
        "黄",
        "紫",
        "绀",
        "水肿",
        "出血",
        "昏",
        "搐",
        "抽",
        "瘫",
        "盲",
        "聋",
        "鸣",
        "悸",
        "促",
        "寒",
        "战",
        "酸",
        "硬",
        "僵",
        "萎",
        "消瘦",
        "肥胖",
        "溃",
        "糜",
        "脓",
        "渗",
        "流",
        "瘙",
        "斑",
        "结节",
        "包块",
        "肿块",
        "抑郁",
        "焦虑",
        "失眠",
        "嗜睡",
        "谵",
        "幻",
        "淡漠",
        "躁",
        "震颤",
        "挛",
        "跛",
        "畸形",
        "增大",
        "肿大",
        "压迫",
        "梗阻",
        "狭窄",
        "扩张",
        "积液",
        "坏死",
        "感染",
        "发育",
        "恶心",
        "厌食",
        "纳差",
        "口干",
        "口渴",
        "尿",
        "多饮",
        "视物",
        "模糊",
        "心慌",
        "气短",
        "吞咽",
        "嘶哑",
        "发作",
        "中毒",
    ]
)
_NOISY_PREFIXES = ("伴", "无", "有", "不", "并", "及", "或", "出现", "第")


@dataclass
class Lexicon:
    """Normalised term → set of (type, source, code); ``code`` may be empty."""

    terms: dict[str, set[tuple[str, str, str]]] = field(default_factory=dict)
    stop: frozenset[str] = frozenset()

    def add(self, term: str, etype: str, source: str, code: str = "", *, min_len: int = 2) -> None:
        key = normalize(term.strip())
        if len(key) < min_len or len(key) > 30 or key in self.stop:
            return
        self.terms.setdefault(key, set()).add((etype, source, code))

    def extend(self, rows: Iterable[tuple[str, str]], source: str, *, min_len: int = 2) -> None:
        for term, etype in rows:
            self.add(term, etype, source, min_len=min_len)

    def __len__(self) -> int:
        return len(self.terms)

    def types_of(self, term: str) -> set[str]:
        return {t for t, _, _ in self.terms.get(normalize(term), set())}


def _data_lines(text: str, where: str) -> Iterator[tuple[int, list[str]]]:
    for n, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.startswith("#"):
            continue
        yield n, line.rstrip("\r\n").split("\t")


def parse_typed_tsv(text: str, where: str) -> list[tuple[str, str, str]]:
    """``term<TAB>type[<TAB>code]`` lines; unknown types and bad lines are errors."""
    rows = []
    for n, fields in _data_lines(text, where):
        if len(fields) not in (2, 3) or not fields[0].strip():
            raise LexiconError(f"{where}:{n}: expected term<TAB>type[<TAB>code], got {len(fields)} fields")
        if fields[1] not in ENTITY_TYPES:
            raise LexiconError(f"{where}:{n}: unknown entity type {fields[1]!r}")
        rows.append((fields[0].strip(), fields[1], fields[2].strip() if len(fields) == 3 else ""))
    return rows


def builtin_terms() -> list[tuple[str, str, str]]:
    return parse_typed_tsv((DATA / "lexicon_zh.tsv").read_text("utf-8"), "lexicon_zh.tsv")


def stop_terms() -> frozenset[str]:
    text = (DATA / "stop_terms_zh.txt").read_text("utf-8")
    return frozenset(normalize(x.strip()) for x in text.splitlines() if x.strip() and not x.startswith("#"))


def hospital_terms(path: Path) -> list[tuple[str, str, str]]:
    """A hospital's own dictionary (same TSV format as the built-in one); applies without retraining."""
    if not path.exists():
        raise LexiconError(f"hospital dictionary not found: {path}")
    return parse_typed_tsv(path.read_text("utf-8-sig"), str(path))


class _NoClasses(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> type:
        raise LexiconError(f"PyCMeKG pickle refers to {module}.{name}; only plain data is accepted")


def _cmekg_path() -> Path | None:
    spec = importlib.util.find_spec("pyCMeKG")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / "model" / "cmekg.pkl"
    return path if path.exists() else None


def _exam_type(term: str) -> str | None:
    up = normalize(term)
    if any(h in up for h in _IMAGING_HINTS):
        return IMAGING
    if any(h in up for h in _LAB_HINTS):
        return LAB
    return None


def cmekg_terms() -> list[tuple[str, str]]:
    """Typed terms derived from the PyCMeKG graph (empty when the package is not installed)."""
    path = _cmekg_path()
    if path is None:
        return []
    with open(path, "rb") as fh:
        graph = _NoClasses(fh).load()
    if not isinstance(graph, dict):
        raise LexiconError("PyCMeKG pickle is not a dict")
    out: list[tuple[str, str]] = []
    diseases: set[str] = set()
    for subject, preds in graph.items():
        if not isinstance(subject, str) or not isinstance(preds, dict):
            continue
        if "界" in preds or "门" in preds or "入药部位" in preds:
            continue  # organisms and herbs
        if any(k in preds for k in ("适应症", "OTC类型", "药品类型", "成份", "通用名", "商品名")):
            out.append((subject, DRUG))
            for alias in preds.get("通用名", []) + preds.get("商品名", []):
                out.append((alias, DRUG))
        elif any(k in preds for k in ("常见症状", "就诊科室", "ICD10", "常见病因", "并发症", "多发群体")):
            out.append((subject, DISEASE))
            diseases.add(subject)
            for alias in preds.get("别称", []):
                out.append((alias, DISEASE))
                diseases.add(alias)
        for pred, etype in (
            ("常见症状", SYMPTOM),
            ("相关症状", SYMPTOM),
            ("临床症状及体征", SYMPTOM),
            ("常见发病部位", ANATOMY),
        ):
            for obj in preds.get(pred, []):
                if not isinstance(obj, str) or obj in diseases:
                    continue
                if etype == SYMPTOM and not any(h in obj for h in _SYMPTOM_HINTS):
                    continue  # the graph's symptom lists also hold words like 医师, 时间, 宫颈
                out.append((obj, etype))
        for obj in preds.get("检查", []):
            if isinstance(obj, str) and (et := _exam_type(obj)) is not None:
                out.append((obj, et))
        for pred in ("治疗", "手术治疗"):
            for obj in preds.get(pred, []):
                if isinstance(obj, str) and obj.endswith("术"):
                    out.append((obj, OPERATION))
    return [(t, e) for t, e in out if isinstance(t, str) and not _noisy(t)]


def _noisy(term: str) -> bool:
    """Graph objects that are phrases rather than terms (lists, negations, leading conjunctions)."""
    if any(c in term for c in "、，,；;。") or term.startswith(_NOISY_PREFIXES):
        return True
    return any(c.isdigit() for c in term) and sum("\u4e00" <= c <= "\u9fff" for c in term) < 3


def code_table_terms(path: Path) -> list[tuple[str, str]]:
    """``(name, code)`` rows of an ICD-10 code table CSV (``code,disease`` with a header)."""
    if not path.exists():
        raise LexiconError(f"code table not found: {path}")
    rows: list[tuple[str, str]] = []
    with open(path, encoding="utf-8-sig", newline="") as fh:
        sample = fh.read(4096)
        fh.seek(0)
        delim = "\t" if sample.count("\t") > sample.count(",") else ","
        reader = csv.reader(fh, delimiter=delim)
        header = next(reader, None)
        if header is None or len(header) < 2:
            raise LexiconError(f"{path}: a code table needs a header with code and name columns")
        for n, row in enumerate(reader, start=2):
            if not row:
                continue
            if len(row) < 2:
                raise LexiconError(f"{path}:{n}: expected code,name")
            code, name = row[0].strip(), row[1].strip()
            if code and name:
                rows.append((name, code))
    return rows


def thuocl_terms(path: Path) -> list[str]:
    """Words of a THUOCL word list (``word<TAB>frequency``); untyped, used as word-boundary hints."""
    if not path.exists():
        raise LexiconError(f"word list not found: {path}")
    words = []
    for line in path.read_text("utf-8").splitlines():
        word = line.split("\t", 1)[0].strip()
        if len(word) >= 2:
            words.append(word)
    return words


def build_lexicon(
    *,
    use_cmekg: bool = True,
    code_table: Path | None = None,
    hospital_dict: Path | None = None,
) -> Lexicon:
    """The dictionary used by the rule pipeline: built-in + PyCMeKG + ICD-10 names + hospital terms."""
    lex = Lexicon(stop=stop_terms())
    for term, etype, code in builtin_terms():
        lex.add(term, etype, "builtin", code, min_len=1)
    if use_cmekg:
        lex.extend(cmekg_terms(), "cmekg")
    if code_table is not None:
        for name, code in code_table_terms(code_table):
            lex.add(name, DISEASE, "icd10", code)
    if hospital_dict is not None:
        for term, etype, code in hospital_terms(hospital_dict):
            lex.add(term, etype, "hospital", code, min_len=1)
    return lex
