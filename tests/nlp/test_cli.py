"""The tuning loop through the CLI: train, eval, predict (Yidu-S4K format), cv, annotate."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from typer.testing import CliRunner

from medlake.cli import nlp_cmds
from medlake.errors import InputFormatError
from medlake.nlp.corpus import Document


def _app() -> typer.Typer:
    app = typer.Typer()
    nlp_cmds.register(app)

    @app.callback()
    def _root() -> None:
        pass

    return app


def test_train_eval_predict_cv(tmp_path: Path, tiny_corpus: list[Document], yidu_writer) -> None:  # type: ignore[no-untyped-def]
    app, runner = _app(), CliRunner()
    train_file = yidu_writer(tiny_corpus[:45], tmp_path / "train.jsonl")
    test_file = yidu_writer(tiny_corpus[45:], tmp_path / "test.jsonl")
    model = tmp_path / "model"
    r = runner.invoke(
        app,
        [
            "nlp",
            "train",
            "--corpus",
            str(train_file),
            "--out",
            str(model),
            "--iterations",
            "30",
            "--no-cmekg",
            "--neural-epochs",
            "4",
            "--threads",
            "1",
            "--json",
        ],
    )
    assert r.exit_code == 0, r.output
    assert (model / "model.crfsuite").exists() and (model / "neural.pt").exists()
    assert json.loads(r.stdout)["neural"]["epochs"] == 4

    r = runner.invoke(app, ["nlp", "eval", "--model", str(model), "--corpus", str(test_file), "--json"])
    assert r.exit_code == 0, r.output
    scores = json.loads(r.stdout)
    assert scores["overall"]["f1"] > 0.8 and scores["notes_per_second"] > 0
    assert scores["system"] == "crf+bilstm"
    assert set(scores["per_type"]) <= {"疾病和诊断", "影像检查", "实验室检验", "手术", "药物", "解剖部位"}

    out = tmp_path / "pred.jsonl"
    r = runner.invoke(
        app, ["nlp", "predict", "--model", str(model), "--in", str(test_file), "--out", str(out)]
    )
    assert r.exit_code == 0, r.output
    lines = out.read_text("utf-8").splitlines()
    assert len(lines) == len(tiny_corpus) - 45
    first = json.loads(lines[0])["entities"]
    assert first and set(first[0]) == {"label_type", "start_pos", "end_pos"}
    gold = {(s.start, s.end, s.label) for s in tiny_corpus[45].spans}
    pred = {(e["start_pos"], e["end_pos"], e["label_type"]) for e in first}
    assert len(gold & pred) >= len(gold) // 2

    r = runner.invoke(
        app,
        [
            "nlp",
            "cv",
            "--corpus",
            str(train_file),
            "--folds",
            "3",
            "--only",
            "0",
            "--iterations",
            "20",
            "--no-cmekg",
            "--neural-epochs",
            "0",
            "--json",
        ],
    )
    assert r.exit_code == 0, r.output
    cv = json.loads(r.stdout)
    assert [f["fold"] for f in cv["folds"]] == [0] and cv["overall"]["tp"] > 0


def test_predict_rejects_bad_input(tmp_path: Path) -> None:
    bad = tmp_path / "in.jsonl"
    bad.write_text('{"text": "x"}\n', "utf-8")
    model = tmp_path / "m"
    model.mkdir()
    r = CliRunner().invoke(
        _app(), ["nlp", "predict", "--model", str(model), "--in", str(bad), "--out", str(tmp_path / "o")]
    )
    assert r.exit_code != 0  # not a model directory


def test_predict_bad_line_is_a_format_error(tmp_path: Path, tiny_corpus: list[Document], yidu_writer) -> None:  # type: ignore[no-untyped-def]
    from medlake.nlp.crf import Resources, TrainParams, train
    from medlake.nlp.lexicon import builtin_terms

    model = tmp_path / "m"
    train(
        tiny_corpus[:10],
        model,
        params=TrainParams(max_iterations=5, inner_folds=2),
        resources=Resources(base_terms=[(t, e) for t, e, _ in builtin_terms()]),
    )
    bad = tmp_path / "in.jsonl"
    bad.write_text('{"text": "x"}\n', "utf-8")
    r = CliRunner().invoke(
        _app(),
        ["nlp", "predict", "--model", str(model), "--in", str(bad), "--out", str(tmp_path / "o.jsonl")],
    )
    assert isinstance(r.exception, InputFormatError)
    assert not (tmp_path / "o.jsonl").exists()


def test_annotate_json(code_table: Path) -> None:
    r = CliRunner().invoke(
        _app(),
        [
            "nlp",
            "annotate",
            "双肺多发结节，考虑转移。",
            "--date",
            "2021-06-10",
            "--code-table",
            str(code_table),
            "--no-cmekg",
            "--json",
        ],
    )
    assert r.exit_code == 0, r.output
    ents = {e["text"]: e for e in json.loads(r.stdout)}
    assert ents["转移"]["assertion"] == "possible" and ents["转移"]["code"] == "C78.001"


def test_train_with_code_table_and_clusters(
    tmp_path: Path,
    tiny_corpus: list[Document],
    yidu_writer,
    code_table: Path,  # type: ignore[no-untyped-def]
) -> None:
    from medlake.nlp.crf import CrfModel

    app, runner = _app(), CliRunner()
    train_file = yidu_writer(tiny_corpus[:40], tmp_path / "train.jsonl")
    ccks = tmp_path / "ccks" / "病史特点"
    ccks.mkdir(parents=True)
    (ccks / "病史特点-1.txtoriginal.txt").write_text("患者胸部CT示肺癌，予顺铂化疗。" * 5, "utf-8")
    model = tmp_path / "model"
    args = [
        "nlp",
        "train",
        "--corpus",
        str(train_file),
        "--out",
        str(model),
        "--iterations",
        "20",
        "--neural-epochs",
        "0",
    ]
    args += ["--no-cmekg", "--code-table", str(code_table), "--clusters", "8"]
    r = runner.invoke(app, [*args, "--unlabeled", str(tmp_path / "ccks")])
    assert r.exit_code == 0, r.output
    assert "高血压" in (model / "terms.tsv").read_text("utf-8")
    rows = [line.split("\t") for line in (model / "clusters.tsv").read_text("utf-8").splitlines()[1:]]
    assert {int(k) for _, k in rows} <= set(range(8)) and "顺" in {c for c, _ in rows}
    crf = CrfModel.load(model)
    text = tiny_corpus[41].text
    assert crf.predict(text) == crf.predict_crfsuite(text) and crf.predict(text)
