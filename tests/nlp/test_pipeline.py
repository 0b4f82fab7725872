"""The whole pipeline: annotate() on report-like text, the CRF merge, and the hospital dictionary."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from medlake.nlp import annotate
from medlake.nlp.corpus import Document
from medlake.nlp.crf import Resources, TrainParams, train
from medlake.nlp.pipeline import Pipeline, PipelineConfig
from medlake.nlp.types import DISEASE, IMAGING, LAB, Span

REPORT = (
    "胸部CT（2021年6月10日）：双肺多发结节，考虑转移。患者于2021年3月5日行直肠癌根治术，"
    "术后第3天发热，无咳嗽、咳痰。查血常规：HGB 98g/L，WBC 3.3×10^9/L，BP 120/80mmHg。"
    "否认高血压病史，其父有糖尿病。"
)


def _by_text(ents):  # type: ignore[no-untyped-def]
    return {e.text: e for e in ents}


def test_annotate_report(pipeline: Pipeline) -> None:
    ents = _by_text(pipeline.annotate(REPORT, date(2021, 7, 1)))
    meta = ents["转移"]
    assert (meta.type, meta.assertion, meta.code) == (DISEASE, "possible", "C78.001")
    assert meta.time is not None and meta.time.date_from == date(2021, 6, 10)
    assert ents["胸部CT"].type == IMAGING
    assert ents["咳嗽"].assertion == "negated"
    assert ents["发热"].time is not None and ents["发热"].time.date_from == date(2021, 3, 8)
    hgb = ents["HGB"]
    assert hgb.type == LAB and hgb.code == "LAB:HGB"
    assert hgb.value is not None and (hgb.value.number, hgb.value.ucum) == (98.0, "g/L")
    wbc = ents["WBC"]
    assert wbc.value is not None and (wbc.value.number, wbc.value.ucum) == (3.3, "10*9/L")
    bp = ents["BP"]
    assert bp.value is not None and (bp.value.number, bp.value.high) == (120.0, 80.0)
    assert ents["血常规"].value is None
    assert ents["高血压病"].assertion == "negated"
    assert ents["高血压病"].code == "I10xx11"
    assert ents["糖尿病"].assertion == "family"
    d = meta.to_dict()
    assert d["time"]["date_from"] == "2021-06-10" and d["assertion"] == "possible"


def test_offsets_match_text(pipeline: Pipeline) -> None:
    for e in pipeline.annotate(REPORT):
        assert REPORT[e.start : e.end] == e.text


def test_size_goes_to_the_finding(pipeline: Pipeline) -> None:
    text = "右肺结节14*12mm，边界清。"
    ents = pipeline.annotate(text)
    nodule = [e for e in ents if e.type == DISEASE][0]
    assert nodule.value is not None and nodule.value.kind == "dims" and nodule.value.high == 12.0


def test_hospital_terms_override_the_model(
    tmp_path: Path, tiny_corpus: list[Document], light_resources: Resources
) -> None:
    model_dir = tmp_path / "m"
    train(
        tiny_corpus,
        model_dir,
        params=TrainParams(max_iterations=30, inner_folds=2),
        resources=light_resources,
    )
    hosp = tmp_path / "hosp.tsv"
    hosp.write_text("直肠癌根治术\t手术\tLOCAL-OP-1\n静滴奥沙利铂\t药物\tLOCAL-DRUG-9\n", "utf-8")
    p = Pipeline(PipelineConfig(model_dir=model_dir, hospital_dict=hosp, use_cmekg=False))
    assert p.system == "medlake-nlp/crf+dict"
    text = "于我院行直肠癌根治术，给予静滴奥沙利铂治疗，给予奥沙利铂。"
    ents = _by_text(p.annotate(text))
    assert ents["直肠癌根治术"].type == "手术" and ents["直肠癌根治术"].code == "LOCAL-OP-1"
    assert ents["静滴奥沙利铂"].code == "LOCAL-DRUG-9"  # the hospital's term wins over the model's span
    assert ents["奥沙利铂"].type == "药物"


def test_module_level_annotate_uses_a_default_pipeline(pipeline: Pipeline) -> None:
    ents = annotate("无发热。", date(2021, 1, 1), pipeline=pipeline)
    assert [(e.text, e.assertion) for e in ents] == [("发热", "negated")]


def test_dated_operations_are_history(pipeline: Pipeline) -> None:
    text = "患者于2019年3月5日行“单侧乳腺改良根治术”，术后恢复可。今日行换药。"
    ents = _by_text(pipeline.annotate(text, date(2021, 7, 1)))
    op = ents["单侧乳腺改良根治术"]
    assert (op.type, op.source, op.assertion) == ("手术", "rule", "historical")
    spans = [Span(op.start, op.end, "手术"), Span(op.start, op.end, DISEASE)]
    assert pipeline.assert_spans(text, spans, date(2021, 7, 1)) == ["historical", "present"]
    assert pipeline.assert_spans(text, spans[:1], date(2019, 3, 10)) == ["present"]
