"""The CDS Hooks 2.0 HTTP surface as a FastAPI router (mounted in the web app or run standalone).

``GET /cds-services`` (discovery), ``POST /cds-services/{id}`` (a hook call → cards),
``POST /cds-services/{id}/feedback`` (accepted / overridden with a reason) and
``GET /cds-services/{id}/model-card`` (the TRIPOD+AI card the cards link to). Errors are JSON
``{"error": reason}`` with 400 for malformed requests and 404 for unknown services.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from starlette.concurrency import run_in_threadpool

from medlake.cdss.service import BadRequest, CdsEngine
from medlake.errors import MedlakeError


def _error(exc: MedlakeError) -> JSONResponse:
    return JSONResponse({"error": exc.message, "code": exc.code}, status_code=exc.http_status)


async def _json_body(request: Request) -> Any:
    raw = await request.body()
    if not raw:
        raise BadRequest("the request body is empty; a JSON object is required")
    try:
        return json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise BadRequest(f"the request body is not valid JSON: {exc}") from None


def make_router(engine: CdsEngine) -> APIRouter:
    router = APIRouter(tags=["cds-hooks"])

    @router.get("/cds-services")
    async def discovery() -> Response:
        try:
            return JSONResponse(await run_in_threadpool(engine.discovery))
        except MedlakeError as exc:
            return _error(exc)

    @router.post("/cds-services/{service_id}")
    async def call(service_id: str, request: Request) -> Response:
        try:
            body = await _json_body(request)
            base = str(request.base_url)
            # most calls (prefetch, precomputed lake rows) are answered here on the event loop;
            # the others (a lake query, a reload) in a worker thread
            answer = engine.try_call(service_id, body, base)
            if answer is None:
                answer = await run_in_threadpool(engine.call, service_id, body, base)
            return JSONResponse(answer)
        except MedlakeError as exc:
            return _error(exc)

    @router.post("/cds-services/{service_id}/feedback")
    async def feedback(service_id: str, request: Request) -> Response:
        try:
            body = await _json_body(request)
            n = await run_in_threadpool(engine.feedback, service_id, body)
            return JSONResponse({"received": n})
        except MedlakeError as exc:
            return _error(exc)

    @router.get("/cds-services/{service_id}/model-card")
    async def model_card(service_id: str) -> Response:
        try:
            lm = engine.model(service_id)
            md = engine.registry.read_artifact(lm.manifest["task"], lm.manifest["version"], "card_md")
            return PlainTextResponse(md.decode(), media_type="text/markdown; charset=utf-8")
        except MedlakeError as exc:
            return _error(exc)

    return router
