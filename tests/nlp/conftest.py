"""Fixtures for medlake.nlp tests: a tiny synthetic annotated corpus and light pipelines."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from medlake.nlp.corpus import Document
from medlake.nlp.crf import Resources
from medlake.nlp.lexicon import builtin_terms
from medlake.nlp.pipeline import Pipeline, PipelineConfig
from medlake.nlp.types import ANATOMY, DISEASE, DRUG, IMAGING, LAB, OPERATION, Span

_PARTS = {
    DISEASE: ["直肠癌", "肺癌", "高血压", "糖尿病", "肝硬化", "胆囊结石"],
    ANATOMY: ["右肺上叶", "肝脏", "胆囊", "左肾", "腹部"],
    DRUG: ["奥沙利铂", "阿司匹林", "二甲双胍", "头孢曲松"],
    IMAGING: ["胸部CT", "腹部彩超", "头颅MRI"],
    LAB: ["血常规", "肝功能", "CEA"],
    OPERATION: ["直肠癌根治术", "胆囊切除术", "肺叶切除术"],
}
_TEMPLATES = [
    "患者因{DIS}入院，行{IMG}示{ANAT}占位。",
    "给予{DRUG}治疗，复查{LAB}未见异常。",
    "于我院行{OPS}，术后恢复可，{ANAT}无压痛。",
    "既往{DIS}病史，长期口服{DRUG}。",
    "{IMG}提示{ANAT}结节，考虑{DIS}。",
]
_KEYS = {"DIS": DISEASE, "ANAT": ANATOMY, "DRUG": DRUG, "IMG": IMAGING, "LAB": LAB, "OPS": OPERATION}


def make_corpus(n: int, seed: int = 1) -> list[Document]:
    rng = random.Random(seed)
    docs = []
    for i in range(n):
        text, spans = "", []
        for _ in range(rng.randint(2, 4)):
            tpl = rng.choice(_TEMPLATES)
            pos = 0
            while pos < len(tpl):
                if tpl[pos] == "{":
                    key = tpl[pos + 1 : tpl.index("}", pos)]
                    label = _KEYS[key]
                    term = rng.choice(_PARTS[label])
                    spans.append(Span(len(text), len(text) + len(term), label))
                    text += term
                    pos = tpl.index("}", pos) + 1
                else:
                    text += tpl[pos]
                    pos += 1
        docs.append(Document(str(i), text, spans))
    return docs


def write_yidu(docs: list[Document], path: Path) -> Path:
    with open(path, "w", encoding="utf-8") as fh:
        for d in docs:
            ents = [
                {"label_type": s.label, "start_pos": s.start, "end_pos": s.end, "overlap": 0} for s in d.spans
            ]
            fh.write(json.dumps({"originalText": d.text, "entities": ents}, ensure_ascii=False) + "\n")
    return path


@pytest.fixture(scope="session")
def tiny_corpus() -> list[Document]:
    return make_corpus(60)


@pytest.fixture(scope="session")
def light_resources() -> Resources:
    """Feature resources without PyCMeKG (fast to build)."""
    return Resources(base_terms=[(t, e) for t, e, _ in builtin_terms()])


@pytest.fixture(scope="session")
def code_table(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("codes") / "icd.csv"
    path.write_text(
        "code,disease\n"
        "C78.001,肺继发恶性肿瘤\n"
        "C80xx01,多部位继发恶性肿瘤\n"
        "C20xx01,直肠恶性肿瘤\n"
        "C34.104,右肺上叶恶性肿瘤\n"
        'C34.1,"上叶,支气管或肺的恶性肿瘤"\n'
        "I10xx02,高血压\n"
        "I10xx11,原发性高血压\n"
        "E11.901,2型糖尿病\n"
        "E14.901,糖尿病\n"
        "J18.901,肺炎\n"
        "K80.201,胆囊结石\n"
        "R91xx01,肺部阴影\n",
        "utf-8",
    )
    return path


@pytest.fixture(scope="session")
def pipeline(code_table: Path) -> Pipeline:
    """The dictionary pipeline without PyCMeKG (built-in lexicon + the small code table)."""
    return Pipeline(PipelineConfig(code_table=code_table, use_cmekg=False))


@pytest.fixture(scope="session")
def corpus_factory():  # type: ignore[no-untyped-def]
    return make_corpus


@pytest.fixture(scope="session")
def yidu_writer():  # type: ignore[no-untyped-def]
    return write_yidu
