"""Web pages and endpoints of the model feature, plugged into the web app's router registry.

Pages: the registry (``/models``), a version's results with ROC and calibration plots, its model
card and stage buttons (``/models/{task}/v{n}``), the task editor that trains a new version
(``/models/new``), monitoring (``/models/{task}/v{n}/monitoring``, JSON at ``.../monitor``) with
a retrain action (``POST .../retrain``) and the CDS simulator showing
the card a clinician would see for a chosen patient, with accept / override feedback
(``/cds/simulator``). The CDS Hooks service
itself is mounted under ``/cds-services`` for logged-in clinicians (``cdss.use``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from medlake.cdss.service import CdsEngine
from medlake.errors import MedlakeError
from medlake.settings import Settings
from medlake.web import Principal, require
from medlake.web.templating import render

router = APIRouter()
TASKS = Path(__file__).with_name("tasks")
PSI_WARN = 0.2  # population stability index above which a feature's drift is shown as a warning


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def _engine(request: Request) -> CdsEngine:
    engine: CdsEngine | None = getattr(request.app.state, "cdss_engine", None)
    if engine is None:
        from medlake.cdss.app import build_engine

        engine = build_engine(_settings(request))
        request.app.state.cdss_engine = engine
    return engine


def _figures(m: dict[str, Any]) -> dict[str, Any]:
    test = m["metrics"].get("test", {})
    roc, cal = test.get("roc", {}), test.get("calibration_curve", {})
    return {
        "roc": {
            "data": [
                {
                    "x": roc.get("fpr", []),
                    "y": roc.get("tpr", []),
                    "type": "scatter",
                    "mode": "lines",
                    "name": "ROC",
                },
                {
                    "x": [0, 1],
                    "y": [0, 1],
                    "type": "scatter",
                    "mode": "lines",
                    "line": {"dash": "dot"},
                    "name": "chance",
                },
            ],
            "layout": {
                "title": f"ROC (AUROC {test.get('auroc', float('nan')):.3f})",
                "xaxis": {"title": "1 - specificity"},
                "yaxis": {"title": "sensitivity"},
            },
        },
        "calibration": {
            "data": [
                {
                    "x": cal.get("predicted", []),
                    "y": cal.get("observed", []),
                    "type": "scatter",
                    "mode": "lines+markers",
                    "name": "deciles",
                },
                {
                    "x": [0, 1],
                    "y": [0, 1],
                    "type": "scatter",
                    "mode": "lines",
                    "line": {"dash": "dot"},
                    "name": "ideal",
                },
            ],
            "layout": {
                "title": "Calibration",
                "xaxis": {"title": "predicted risk"},
                "yaxis": {"title": "observed risk"},
            },
        },
    }


@router.get("/models", response_class=HTMLResponse)
def registry_page(request: Request, principal: Annotated[Principal, require("models.view")]) -> Response:
    from medlake.models.registry import Registry

    rows = Registry(_settings(request).data_dir).entries()
    return render(request, "models_registry.html", {"rows": rows})


@router.get("/models/new", response_class=HTMLResponse)
def editor_page(
    request: Request,
    principal: Annotated[Principal, require("models.manage")],
    example: str = "tapvc_reoperation",
) -> Response:
    names = sorted(p.stem for p in TASKS.glob("*.json"))
    text = (TASKS / f"{example}.json").read_text(encoding="utf-8") if example in names else ""
    return render(request, "models_editor.html", {"examples": names, "text": text, "error": None})


@router.post("/models/new", response_class=HTMLResponse)
async def editor_submit(
    request: Request,
    principal: Annotated[Principal, require("models.manage")],
    task_json: Annotated[str, Form()],
    algorithm: Annotated[str, Form()] = "",
) -> Response:
    from medlake.cdm.lake import Lake
    from medlake.models.registry import Registry
    from medlake.models.spec import TaskSpec
    from medlake.models.train import train

    settings = _settings(request)
    try:
        spec = TaskSpec.parse(task_json, origin="task editor")
        if algorithm:
            spec = spec.with_algorithm(algorithm)

        def run() -> dict[str, Any]:
            return train(
                Lake(settings.data_dir).connect(),
                spec,
                Registry(settings.data_dir),
                trainer=principal.username,
            )

        m = await run_in_threadpool(run)
    except MedlakeError as exc:
        names = sorted(p.stem for p in TASKS.glob("*.json"))
        return render(
            request,
            "models_editor.html",
            {"examples": names, "text": task_json, "error": exc.message},
            status_code=exc.http_status,
        )
    return RedirectResponse(f"/models/{m['task']}/v{m['version']}", status_code=303)


@router.get("/models/{task}/v{version}", response_class=HTMLResponse)
def version_page(
    request: Request, task: str, version: int, principal: Annotated[Principal, require("models.view")]
) -> Response:
    from medlake.models.card import compare
    from medlake.models.registry import Registry

    reg = Registry(_settings(request).data_dir)
    m = reg.manifest(task, version)
    card = reg.read_artifact(task, version, "card_md").decode()
    others = [reg.manifest(task, v) for v in reg.versions(task)]
    weights = sorted(m.get("mean_abs_contribution", {}).items(), key=lambda kv: -kv[1])
    ctx = {"m": m, "card": card, "figures": _figures(m), "comparison": compare(others), "weights": weights}
    return render(request, "models_version.html", ctx)


@router.post("/models/{task}/v{version}/stage")
def change_stage(
    request: Request,
    task: str,
    version: int,
    principal: Annotated[Principal, require("models.view")],
    stage: Annotated[str, Form()],
    note: Annotated[str, Form()] = "",
) -> Response:
    from medlake.models.registry import Registry
    from medlake.models.stewards import StoreUsers, audit

    settings = _settings(request)
    users = StoreUsers(settings) if stage == "published" else None
    if stage != "published" and principal.role not in ("admin", "researcher", "steward"):
        from medlake.errors import PermissionDenied

        raise PermissionDenied("your role cannot change model stages")
    Registry(settings.data_dir).transition(
        task, version, stage, by=principal.username, users=users, note=note
    )
    audit(settings, principal.username, f"model.{stage}", f"{task}/v{version}", {"note": note})
    return RedirectResponse(f"/models/{task}/v{version}", status_code=303)


def _monitor_report(request: Request, task: str, version: int, since: str = "") -> dict[str, Any]:
    from datetime import datetime

    from medlake.cdm.lake import Lake
    from medlake.cdss.service import BadRequest
    from medlake.models.monitor import monitor

    try:
        start = datetime.fromisoformat(since) if since else None
    except ValueError:
        raise BadRequest(f"since={since!r} is not an ISO date") from None
    engine = _engine(request)
    report = monitor(
        engine.registry,
        engine.store,
        Lake(_settings(request).data_dir).connect(),
        task,
        version,
        since=start,
    )
    plain: dict[str, Any] = json.loads(json.dumps(report, default=str))
    return plain


@router.get("/models/{task}/v{version}/monitor")
def monitor_page(
    request: Request,
    task: str,
    version: int,
    principal: Annotated[Principal, require("models.view")],
    since: str = "",
) -> Response:
    return JSONResponse(_monitor_report(request, task, version, since))


@router.get("/models/{task}/v{version}/monitoring", response_class=HTMLResponse)
def monitoring_page(
    request: Request,
    task: str,
    version: int,
    principal: Annotated[Principal, require("models.view")],
    since: str = "",
) -> Response:
    """The monitoring report as a page: use, acceptance, override reasons, performance, drift.

    Outcomes are counted from publication, or from ``since`` (an ISO date) when given.
    """
    report = _monitor_report(request, task, version, since)
    drift = sorted(report["drift_psi"].items(), key=lambda kv: -(kv[1] if kv[1] is not None else -1.0))
    reasons = sorted(report["feedback"]["override_reasons"].items(), key=lambda kv: (-kv[1], kv[0]))
    ctx = {"r": report, "drift": drift, "reasons": reasons, "psi_warn": PSI_WARN}
    return render(request, "model_monitor.html", ctx)


@router.post("/models/{task}/v{version}/retrain")
async def retrain_model(
    request: Request,
    task: str,
    version: int,
    principal: Annotated[Principal, require("models.manage")],
) -> Response:
    """Fit the task again on the current lake as a new draft version (for review before use)."""
    from medlake.cdm.lake import Lake
    from medlake.models.monitor import retrain
    from medlake.models.registry import Registry

    settings = _settings(request)
    registry = Registry(settings.data_dir)
    registry.manifest(task, version)  # unknown task/version → the registry's not-found error

    def run() -> dict[str, Any]:
        return retrain(Lake(settings.data_dir).connect(), registry, task, trainer=principal.username)

    m = await run_in_threadpool(run)
    return RedirectResponse(f"/models/{m['task']}/v{m['version']}", status_code=303)


@router.get("/cds/simulator", response_class=HTMLResponse)
def simulator(
    request: Request,
    principal: Annotated[Principal, require("cdss.use")],
    service: str = "",
    patient: str = "",
    feedback: str = "",
) -> Response:
    from medlake.cdss.service import override_reasons

    engine = _engine(request)
    services = sorted(engine.models())
    card, error = None, None
    if service and patient:
        body = {"hook": "patient-view", "hookInstance": "web-simulator", "context": {"patientId": patient}}
        try:
            card = engine.call(service, body, str(request.base_url), principal.username)["cards"][0]
        except MedlakeError as exc:
            error = exc.message
    ctx = {
        "services": services,
        "service": service,
        "patient": patient,
        "card": card,
        "error": error,
        "reasons": override_reasons()["reasons"],
        "feedback": feedback,
    }
    return render(request, "models_simulator.html", ctx)


@router.post("/cds/simulator/feedback")
def simulator_feedback(
    request: Request,
    principal: Annotated[Principal, require("cdss.use")],
    service: Annotated[str, Form()],
    card: Annotated[str, Form()],
    outcome: Annotated[str, Form()],
    reason: Annotated[str, Form()] = "",
    comment: Annotated[str, Form()] = "",
) -> Response:
    """The clinician's answer to a card (accepted, or overridden with a reason), as CDS Hooks feedback."""
    from urllib.parse import urlencode

    from medlake.cdss.service import override_reasons

    item: dict[str, Any] = {"card": card, "outcome": outcome}
    if outcome == "overridden":
        reasons = override_reasons()
        coding = next((r for r in reasons["reasons"] if r["code"] == reason), None)
        item["overrideReason"] = {
            "reason": {"system": reasons["system"], **coding} if coding else {},
            "userComment": comment,
        }
    _engine(request).feedback(service, {"feedback": [item]})
    return RedirectResponse(
        "/cds/simulator?" + urlencode({"service": service, "feedback": outcome}), status_code=303
    )


@router.get("/cds-services/{service_id}/model-card")
def cds_model_card(
    request: Request, service_id: str, principal: Annotated[Principal, require("cdss.use")]
) -> Response:
    from fastapi.responses import PlainTextResponse

    engine = _engine(request)
    lm = engine.model(service_id)
    md = engine.registry.read_artifact(lm.manifest["task"], lm.manifest["version"], "card_md")
    return PlainTextResponse(md.decode(), media_type="text/markdown; charset=utf-8")


@router.get("/cds-services")
def cds_discovery(request: Request, principal: Annotated[Principal, require("cdss.use")]) -> Response:
    return JSONResponse(_engine(request).discovery())


@router.post("/cds-services/{service_id}")
async def cds_call(
    request: Request, service_id: str, principal: Annotated[Principal, require("cdss.use")]
) -> Response:
    from medlake.cdss.router import _error, _json_body

    try:
        body = await _json_body(request)
        engine, base = _engine(request), str(request.base_url)
        return JSONResponse(await run_in_threadpool(engine.call, service_id, body, base, principal.username))
    except MedlakeError as exc:
        return _error(exc)


@router.post("/cds-services/{service_id}/feedback")
async def cds_feedback(
    request: Request, service_id: str, principal: Annotated[Principal, require("cdss.use")]
) -> Response:
    from medlake.cdss.router import _error, _json_body

    try:
        body = await _json_body(request)
        return JSONResponse(
            {"received": await run_in_threadpool(_engine(request).feedback, service_id, body)}
        )
    except MedlakeError as exc:
        return _error(exc)
