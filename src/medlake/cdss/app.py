"""The standalone CDS Hooks service (``medlake model serve``): the router plus CORS and lifecycle.

The engine and its store are built from the settings when the app is created; issued cards are
flushed to the application store every couple of seconds and at shutdown.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from starlette.concurrency import run_in_threadpool

from medlake.cdss.router import make_router
from medlake.cdss.service import CdsEngine
from medlake.cdss.store import CdsStore
from medlake.settings import Settings


def build_engine(settings: Settings) -> CdsEngine:
    from medlake.store import make_engine

    return CdsEngine(settings.data_dir, CdsStore(make_engine(settings)))


def app_from_env() -> FastAPI:
    """App factory for ``uvicorn --factory`` (several worker processes): settings from the environment."""
    return create_app(Settings())


def create_app(settings: Settings, engine: CdsEngine | None = None) -> FastAPI:
    cds = engine or build_engine(settings)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        async def flush_forever() -> None:
            while True:
                await asyncio.sleep(2.0)
                await run_in_threadpool(cds.store.flush)

        task = asyncio.create_task(flush_forever())
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            cds.store.flush()

    app = FastAPI(title="medlake CDS Hooks", version="2.0", lifespan=lifespan)
    app.add_middleware(
        CORSMiddleware, allow_origins=["*"], allow_methods=["GET", "POST", "OPTIONS"], allow_headers=["*"]
    )
    app.include_router(make_router(cds))
    app.state.cds = cds
    return app
