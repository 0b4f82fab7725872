"""NLP commands: ``nlp run`` (notes → note_nlp and facts), ``train``, ``eval``, ``predict``, ``cv``, ``annotate``."""

from __future__ import annotations

import json
import sys
from datetime import date
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from medlake.cli.common import DataDirOption, JsonOption, print_json, settings_for

ModelOption = Annotated[
    Path | None, typer.Option("--model", "-m", help="trained model directory (adds the CRF)")
]
CodeTableOption = Annotated[
    Path | None,
    typer.Option(
        "--code-table", help="ICD-10 code table CSV (code,name); default: the lake's ICD-10 concepts"
    ),
]
HospitalDictOption = Annotated[
    Path | None, typer.Option("--hospital-dict", help="the hospital's own terms: term<TAB>type[<TAB>code]")
]
FormatOption = Annotated[str, typer.Option("--format", "-f", help="corpus format: yidu | ccks2017 | medlake")]
CorpusOption = Annotated[
    Path, typer.Option("--corpus", help="annotated corpus (file, or folder for ccks2017)")
]
AlgorithmOption = Annotated[
    str, typer.Option("--algorithm", help="lbfgs (default) or ap (averaged perceptron, faster)")
]
NoCmekgOption = Annotated[
    bool, typer.Option("--no-cmekg", help="leave PyCMeKG terms out of the dictionaries")
]
WordsOption = Annotated[
    Path | None, typer.Option("--words", help="THUOCL-style word list for boundary features")
]
TermsTableOption = Annotated[
    Path | None, typer.Option("--code-table", help="ICD-10 code table CSV: its names become disease features")
]
ClustersOption = Annotated[
    int, typer.Option("--clusters", help="character clusters learned from the texts (0 = none)")
]
NeuralEpochsOption = Annotated[
    int,
    typer.Option(
        "--neural-epochs",
        help="also train the BiLSTM-CRF for this many epochs and average it with the CRF (0 = CRF only)",
    ),
]
ThreadsOption = Annotated[
    int, typer.Option("--threads", help="PyTorch threads for the neural part (0 = all cores)")
]
UnlabeledOption = Annotated[
    Path | None,
    typer.Option("--unlabeled", help="CCKS 2017 folder whose texts also feed the clusters (labels unused)"),
]


def register(app: typer.Typer) -> None:
    nlp = typer.Typer(
        help="Chinese clinical NLP: entities, assertions, times, values, ICD-10 codes.", no_args_is_help=True
    )
    nlp.command("run")(run)
    nlp.command("annotate")(annotate)
    nlp.command("train")(train)
    nlp.command("eval")(evaluate)
    nlp.command("predict")(predict)
    nlp.command("cv")(cross_validate)
    app.add_typer(nlp, name="nlp")


def _words(path: Path | None) -> list[str] | None:
    from medlake.nlp.lexicon import thuocl_terms

    return thuocl_terms(path) if path else None


def _resources(
    words: Path | None, no_cmekg: bool, code_table: Path | None = None, unlabeled: Path | None = None
) -> Any:
    from medlake.nlp.corpus import read_corpus
    from medlake.nlp.crf import Resources, default_resources
    from medlake.nlp.lexicon import builtin_terms, code_table_terms
    from medlake.nlp.types import DISEASE

    extra = [(name, DISEASE) for name, _ in code_table_terms(code_table)] if code_table else []
    if no_cmekg:
        res = Resources(
            base_terms=[(t, e) for t, e, _ in builtin_terms()],
            extra_terms=extra,
            words=_words(words) or [],
            base_name="builtin",
        )
    else:
        res = default_resources(extra_terms=extra, words=_words(words))
    if unlabeled:
        res.unlabeled = [d.text for d in read_corpus(unlabeled, "ccks2017")]
    return res


def run(
    data_dir: DataDirOption = None,
    model: ModelOption = None,
    code_table: CodeTableOption = None,
    hospital_dict: HospitalDictOption = None,
    workers: Annotated[
        int | None,
        typer.Option("--workers", "-w", help="worker processes (default: settings, 0 = all cores)"),
    ] = None,
    batch_size: Annotated[int, typer.Option("--batch-size", help="notes per lake transaction")] = 2000,
    no_cmekg: NoCmekgOption = False,
    crf_only: Annotated[
        bool,
        typer.Option(
            "--crf-only", help="use only the CRF part of a combined model (≈ 9× faster, less accurate)"
        ),
    ] = False,
    json_out: JsonOption = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="no progress bar")] = False,
) -> None:
    """Annotate the lake's new notes: note_nlp rows plus NLP-derived conditions, labs, procedures, drugs."""
    from rich.progress import Progress

    from medlake.cdm.lake import Lake
    from medlake.nlp.lake_run import run as run_notes
    from medlake.nlp.pipeline import Pipeline, PipelineConfig
    from medlake.nlp.vocab import lake_icd_rows

    settings = settings_for(data_dir)
    lake = Lake(settings.data_dir).ensure()
    config = PipelineConfig(
        model_dir=model,
        code_table=code_table,
        hospital_dict=hospital_dict,
        use_cmekg=not no_cmekg,
        crf_only=crf_only,
    )
    pipeline = Pipeline(config, icd_rows=None if code_table else lake_icd_rows(lake))
    n_workers = settings.workers if workers is None else workers
    if quiet or json_out:
        stats = run_notes(lake, pipeline, workers=n_workers, batch_size=batch_size)
    else:
        with Progress(console=Console(stderr=True)) as bar:
            task = bar.add_task("annotating notes", total=None)

            def show(done: int, total: int) -> None:
                bar.update(task, completed=done, total=total)

            stats = run_notes(lake, pipeline, workers=n_workers, batch_size=batch_size, progress=show)
    if json_out:
        print_json(stats.as_dict())
        return
    console = Console()
    console.print(
        f"{stats.notes_processed:,} notes annotated ({stats.notes_skipped:,} already done), "
        f"{stats.entities:,} entities in {stats.seconds:.1f} s with {pipeline.system}"
    )
    tab = Table("table", "rows written")
    for name, n in sorted(stats.rows.items()):
        if not name.startswith("_"):
            tab.add_row(name, f"{n:,}")
    console.print(tab)


def annotate(
    text: Annotated[str, typer.Argument(help="note text")],
    doc_date: Annotated[str | None, typer.Option("--date", help="document date YYYY-MM-DD")] = None,
    model: ModelOption = None,
    code_table: CodeTableOption = None,
    hospital_dict: HospitalDictOption = None,
    no_cmekg: NoCmekgOption = False,
    json_out: JsonOption = False,
) -> None:
    """Annotate one text and print its entities (type, assertion, time, value, code)."""
    from medlake.nlp.pipeline import Pipeline, PipelineConfig

    config = PipelineConfig(
        model_dir=model, code_table=code_table, hospital_dict=hospital_dict, use_cmekg=not no_cmekg
    )
    ents = Pipeline(config).annotate(text, date.fromisoformat(doc_date) if doc_date else None)
    if json_out:
        print_json([e.to_dict() for e in ents])
        return
    tab = Table("span", "text", "type", "assertion", "time", "value", "code")
    for e in ents:
        when = ""
        if e.time is not None:
            when = f"{e.time.text} → {e.time.date_from or '?'}" + (
                f"..{e.time.date_to}" if e.time.date_to != e.time.date_from else ""
            )
        value = f"{e.value.text} [{e.value.ucum or ''}]" if e.value else ""
        code = f"{e.code} {e.code_name or ''} {e.code_score or ''}" if e.code else ""
        tab.add_row(f"{e.start}-{e.end}", e.text, e.type, e.assertion, when, value, code)
    Console().print(tab)


def train(
    corpus: CorpusOption,
    out: Annotated[Path, typer.Option("--out", "-o", help="model directory to write")],
    fmt: FormatOption = "yidu",
    c1: Annotated[float, typer.Option(help="L1 regularisation")] = 0.05,
    c2: Annotated[float, typer.Option(help="L2 regularisation")] = 0.02,
    iterations: Annotated[int, typer.Option(help="training iterations (epochs for ap)")] = 150,
    algorithm: AlgorithmOption = "lbfgs",
    words: WordsOption = None,
    code_table: TermsTableOption = None,
    clusters: ClustersOption = 0,
    unlabeled: UnlabeledOption = None,
    no_cmekg: NoCmekgOption = False,
    neural_epochs: NeuralEpochsOption = 12,
    threads: ThreadsOption = 0,
    json_out: JsonOption = False,
) -> None:
    """Train the character CRF (with out-of-fold gazetteer features) and, unless --neural-epochs 0,
    the BiLSTM-CRF it is averaged with; write the model to --out."""
    from medlake.nlp.corpus import read_corpus
    from medlake.nlp.crf import TrainParams
    from medlake.nlp.crf import train as train_crf

    err = Console(stderr=True)
    docs = read_corpus(corpus, fmt)
    params = TrainParams(c1=c1, c2=c2, max_iterations=iterations, algorithm=algorithm, clusters=clusters)
    res = _resources(words, no_cmekg, code_table, unlabeled)
    neural = _neural(neural_epochs, threads)
    model = train_crf(docs, out, params=params, resources=res, progress=err.print, neural=neural)
    meta = json.loads((model.directory / "meta.json").read_text("utf-8"))
    if json_out:
        print_json(meta)
    else:
        Console().print(f"model written to {out} ({len(docs)} documents, {meta['train_seconds']} s)")


def _neural(epochs: int, threads: int) -> Any:
    from medlake.nlp.neural import NeuralParams

    if epochs < 0:
        raise typer.BadParameter("--neural-epochs must be 0 (CRF only) or more")
    if epochs and threads:
        import torch

        torch.set_num_threads(threads)
    return NeuralParams(epochs=epochs) if epochs else None


def _print_scores(result: dict[str, Any], json_out: bool) -> None:
    if json_out:
        print_json(result)
        return
    tab = Table("type", "precision", "recall", "F1", "gold", "predicted")
    rows = [("overall", result["overall"])] + list(result["per_type"].items())
    for name, m in rows:
        tab.add_row(
            name,
            f"{m['precision']:.4f}",
            f"{m['recall']:.4f}",
            f"{m['f1']:.4f}",
            str(m["tp"] + m["fn"]),
            str(m["tp"] + m["fp"]),
        )
    Console().print(tab)
    if result.get("notes_per_second"):
        Console().print(f"{result['notes_per_second']} notes/s")


def evaluate(
    corpus: CorpusOption,
    model: ModelOption = None,
    fmt: FormatOption = "yidu",
    with_dict: Annotated[
        bool, typer.Option("--with-dict", help="score the model merged with the dictionaries")
    ] = False,
    json_out: JsonOption = False,
) -> None:
    """Strict entity-level precision/recall/F1 (overall and per type) and notes per second."""
    from medlake.nlp.corpus import read_corpus
    from medlake.nlp.crf import CrfModel
    from medlake.nlp.evaluate import evaluate as score
    from medlake.nlp.pipeline import Pipeline, PipelineConfig

    docs = read_corpus(corpus, fmt)
    loaded: CrfModel | None
    if model is not None and not with_dict:
        loaded = CrfModel.load(model)
        predict = loaded.predict
    else:
        pipeline = Pipeline(PipelineConfig(model_dir=model))
        loaded, predict = pipeline.model, pipeline.predict_spans
    result = score(predict, docs)
    system = "crf+bilstm" if loaded is not None and loaded.combined else "crf"
    result["system"] = system if model and not with_dict else (f"{system}+dict" if model else "dict")
    _print_scores(result, json_out)


def predict(
    model: Annotated[Path, typer.Option("--model", "-m", help="trained model directory")],
    in_file: Annotated[Path, typer.Option("--in", help="JSONL with originalText per line")],
    out_file: Annotated[Path, typer.Option("--out", help="JSONL to write, line for line")],
) -> None:
    """Yidu-S4K-style predictions: one {"entities": [{label_type, start_pos, end_pos}]} per input line."""
    from medlake.errors import InputFormatError, InputNotFound
    from medlake.nlp.crf import CrfModel

    if not in_file.exists():
        raise InputNotFound(f"input not found: {in_file}")
    crf = CrfModel.load(model)
    n = 0
    tmp = out_file.with_name(f".{out_file.name}.tmp")
    with open(in_file, encoding="utf-8-sig") as src, open(tmp, "w", encoding="utf-8") as dst:
        for lineno, line in enumerate(src, start=1):
            if not line.strip():
                dst.write(json.dumps({"entities": []}) + "\n")
                continue
            try:
                text = json.loads(line)["originalText"]
            except (json.JSONDecodeError, KeyError, TypeError) as exc:
                tmp.unlink(missing_ok=True)
                raise InputFormatError(f"{in_file}:{lineno}: no originalText ({exc})") from exc
            ents = [
                {"label_type": s.label, "start_pos": s.start, "end_pos": s.end} for s in crf.predict(text)
            ]
            dst.write(json.dumps({"entities": ents}, ensure_ascii=False) + "\n")
            n += 1
    tmp.replace(out_file)
    Console(stderr=True).print(f"{n} records predicted → {out_file}")


def cross_validate(
    corpus: CorpusOption,
    folds: Annotated[int, typer.Option("--folds", "-k", help="number of folds")] = 5,
    fmt: FormatOption = "yidu",
    only: Annotated[list[int] | None, typer.Option("--only", help="run only these folds (0-based)")] = None,
    c1: Annotated[float, typer.Option(help="L1 regularisation")] = 0.05,
    c2: Annotated[float, typer.Option(help="L2 regularisation")] = 0.02,
    iterations: Annotated[int, typer.Option(help="training iterations (epochs for ap)")] = 150,
    algorithm: AlgorithmOption = "lbfgs",
    words: WordsOption = None,
    code_table: TermsTableOption = None,
    clusters: ClustersOption = 0,
    unlabeled: UnlabeledOption = None,
    no_cmekg: NoCmekgOption = False,
    neural_epochs: NeuralEpochsOption = 12,
    threads: ThreadsOption = 0,
    json_out: JsonOption = False,
) -> None:
    """k-fold cross-validated strict entity F1 of the model (CRF, averaged with the BiLSTM-CRF unless
    --neural-epochs 0), pooled over folds, per type."""
    from medlake.nlp.corpus import read_corpus
    from medlake.nlp.crf import TrainParams
    from medlake.nlp.crf import train as train_crf
    from medlake.nlp.evaluate import cross_validate as cv

    docs = read_corpus(corpus, fmt)
    params = TrainParams(c1=c1, c2=c2, max_iterations=iterations, algorithm=algorithm, clusters=clusters)
    res = _resources(words, no_cmekg, code_table, unlabeled)
    neural = _neural(neural_epochs, threads)
    err = Console(stderr=True)

    def train_fn(train_docs: list[Any], tmp: Path) -> Any:
        return train_crf(
            train_docs, tmp, params=params, resources=res, neural=neural, progress=err.print
        ).predict

    result = cv(docs, folds, train_fn, only_folds=only, progress=err.print)
    result["params"] = params.__dict__
    result["neural"] = neural.__dict__ if neural else None
    _print_scores(result, json_out)
    if not json_out:
        print(json.dumps(result["folds"]), file=sys.stderr)
