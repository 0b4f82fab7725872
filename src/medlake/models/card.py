"""Model cards following TRIPOD+AI, and the side-by-side comparison of a task's models.

``model_card(manifest)`` gives the card as markdown and as JSON (the same items, keyed by the
TRIPOD+AI section they answer). ``compare(manifests)`` tabulates several versions' test figures.
"""

from __future__ import annotations

from typing import Any


def _fmt(v: Any, digits: int = 3) -> str:
    if v is None:
        return "–"
    if isinstance(v, float):
        return "–" if v != v else f"{v:.{digits}f}"
    return str(v)


def _feature_line(f: dict[str, Any]) -> str:
    kind = f["kind"]
    if kind == "demographic":
        return f"{f['name']}: {f['field']}"
    match = f.get("match") or {}
    label = [f"{f['label']} ({f.get('unit') or 'number'})"] if "label" in f else []
    codes = ", ".join(
        match.get("codes", []) + [str(c) for c in match.get("concept_ids", [])] + f.get("phrases", []) + label
    )
    win = f.get("window") or {}
    where = f"days {win.get('start_days')}..{win.get('end_days')}" if win else ""
    agg = f" ({f['agg']})" if "agg" in f else ""
    transform = f" → {f['transform']}" if f.get("transform", "none") != "none" else ""
    return f"{f['name']}: {kind}{agg} of [{codes}] {where}{transform}".strip()


def model_card(m: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    spec = m["spec"]
    test = m["metrics"].get("test", {})
    val = m["metrics"].get("validation", {})
    pre = m["preprocessing"]
    src = spec["source"]
    if src["kind"] == "cohort":
        source = f"members of cohort {src['cohort_definition_id']}; index = cohort start date"
    else:
        codes = ", ".join(src["match"].get("codes", []))
        source = f"persons with a {src['domain']} coded [{codes}]; index = date of the {src['occurrence']} such event"
    out = spec["outcome"]
    codes = ", ".join((out.get("match") or {}).get("codes", []))
    tar = out["time_at_risk"]
    outcome = f"{out['domain']} [{codes}] from day {tar['start_days']} to day {tar['end_days']} after index"
    top = sorted(m.get("mean_abs_contribution", {}).items(), key=lambda kv: -kv[1])[:10]
    card: dict[str, Any] = {
        "title": f"{m['title']} — {m['algorithm']} v{m['version']}",
        "model": {
            "task": m["task"],
            "version": m["version"],
            "stage": m["stage"],
            "algorithm": m["algorithm"],
        },
        "objective": spec.get("description") or f"Predict the risk of the outcome of task {m['task']}.",
        "intended_use": "Decision support for clinicians; the model informs, it does not decide.",
        "source_of_data": "Routine care data of the hospital's research data lake (OMOP CDM shaped).",
        "participants": source,
        "outcome": outcome,
        "predictors": [_feature_line(f) for f in spec["features"]],
        "sample_size": m["sizes"],
        "missing_data": {
            "max_missing_rate": spec["max_missing_rate"],
            "dropped_features": pre["dropped"],
            "imputation": "training median plus a missing indicator per feature with missing values",
        },
        "analysis": {
            "algorithm": m["algorithm"],
            "hyper_parameters": m["params"],
            "tuning": f"{spec['split']['folds']}-fold stratified cross-validation on the training set (AUROC)",
            "split": spec["split"],
            "seed": m["seed"],
        },
        "performance": {"validation": _summary(val), "test": _summary(test)},
        "risk_bands": {"cut_points": spec["bands"], "test": test.get("risk_bands", [])},
        "important_predictors": [{"feature": k, "mean_abs_contribution": v} for k, v in top],
        "fairness": "Not assessed by subgroup in this version; review performance by sex and age before use.",
        "limitations": "Single-centre development; internal validation only; external validation is required.",
        "reproducibility": {
            "data_snapshot_sha256": m["snapshot_hash"],
            "environment": m.get("environment", {}),
            "artifacts": {k: v["sha256"] for k, v in m.get("artifacts", {}).items()},
        },
    }
    return _markdown(card), card


def _summary(r: dict[str, Any]) -> dict[str, Any]:
    if not r:
        return {}
    keys = (
        "n",
        "events",
        "auroc",
        "auroc_ci",
        "auprc",
        "brier",
        "calibration_slope",
        "calibration_intercept",
    )
    return {k: r.get(k) for k in keys}


def _markdown(c: dict[str, Any]) -> str:
    t = c["performance"]["test"]
    lines = [
        f"# Model card: {c['title']}",
        "",
        "Reported following TRIPOD+AI.",
        "",
        "## Objective and intended use",
        c["objective"],
        "",
        c["intended_use"],
        "",
        "## Data and participants",
        f"- Source of data: {c['source_of_data']}",
        f"- Participants: {c['participants']}",
        f"- Outcome: {c['outcome']}",
        f"- Sample size: {c['sample_size']}",
        "",
        "## Predictors",
        *[f"- {p}" for p in c["predictors"]],
        "",
        "## Missing data",
        f"- Features missing in more than {c['missing_data']['max_missing_rate']:.0%} of training rows are dropped: "
        f"{c['missing_data']['dropped_features'] or 'none'}",
        f"- {c['missing_data']['imputation']}",
        "",
        "## Analysis",
        f"- Algorithm: {c['analysis']['algorithm']} with {c['analysis']['hyper_parameters']}",
        f"- Tuning: {c['analysis']['tuning']}",
        f"- Seed: {c['analysis']['seed']}",
        "",
        "## Performance (test set)",
    ]
    if t:
        ci = t.get("auroc_ci") or [None, None]
        lines += [
            "| n | events | AUROC (95% CI) | AUPRC | Brier | calibration slope | calibration intercept |",
            "| --- | --- | --- | --- | --- | --- | --- |",
            f"| {t['n']} | {t['events']} | {_fmt(t['auroc'])} ({_fmt(ci[0])}–{_fmt(ci[1])}) | {_fmt(t['auprc'])} "
            f"| {_fmt(t['brier'])} | {_fmt(t['calibration_slope'])} | {_fmt(t['calibration_intercept'])} |",
        ]
    lines += [
        "",
        "## Risk bands (test set)",
        "| band | n | events | observed risk |",
        "| --- | --- | --- | --- |",
    ]
    lines += [
        f"| {b['band']} | {b['n']} | {b['events']} | {_fmt(b['observed_risk'])} |"
        for b in c["risk_bands"]["test"]
    ]
    lines += ["", "## Most important predictors"]
    lines += [f"- {p['feature']}: {p['mean_abs_contribution']:.4f}" for p in c["important_predictors"]]
    lines += [
        "",
        "## Fairness and limitations",
        f"- {c['fairness']}",
        f"- {c['limitations']}",
        "",
        "## Reproducibility",
        f"- Data snapshot sha256: `{c['reproducibility']['data_snapshot_sha256']}`",
        f"- Environment: {c['reproducibility']['environment']}",
        "",
    ]
    return "\n".join(lines)


def compare(manifests: list[dict[str, Any]]) -> str:
    """Markdown table of several model versions' test figures, best AUROC first."""
    rows = sorted(manifests, key=lambda m: -(m["metrics"].get("test", {}).get("auroc") or 0.0))
    lines = [
        "| task | version | algorithm | stage | AUROC (95% CI) | AUPRC | Brier | cal. slope | cal. intercept |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for m in rows:
        t = m["metrics"].get("test", {})
        ci = t.get("auroc_ci") or [None, None]
        lines.append(
            f"| {m['task']} | v{m['version']} | {m['algorithm']} | {m['stage']} | {_fmt(t.get('auroc'))} "
            f"({_fmt(ci[0])}–{_fmt(ci[1])}) | {_fmt(t.get('auprc'))} | {_fmt(t.get('brier'))} "
            f"| {_fmt(t.get('calibration_slope'))} | {_fmt(t.get('calibration_intercept'))} |"
        )
    return "\n".join(lines)
