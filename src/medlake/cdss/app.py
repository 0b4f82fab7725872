"""The standalone CDS Hooks service (``medlake model serve``): the router plus CORS and lifecycle.

The engine and its store are built from the settings when the app is created (the store must be
migrated: ``medlake model serve`` runs the migrations first). At start-up the models are loaded,
the lake slice is built and the heap is frozen out of the garbage collector's way
(``gc.freeze``), so the first calls and later collections do not stall requests; a background
loop then re-checks the registry and the lake every second, off the request path. Issued cards
and their audit entries are written every couple of seconds by the store and at shutdown.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from starlette.concurrency import run_in_threadpool

from medlake.cdss.router import make_router
from medlake.cdss.service import CdsEngine
from medlake.cdss.store import CdsStore
from medlake.settings import Settings

FLUSH_SECONDS = 2.0
REFRESH_SECONDS = 1.0


def build_engine(settings: Settings) -> CdsEngine:
    from medlake.store import make_engine

    store = CdsStore(make_engine(settings), audit_dir=settings.data_dir, autoflush=FLUSH_SECONDS)
    return CdsEngine(settings.data_dir, store)


def app_from_env() -> FastAPI:
    """App factory for ``uvicorn --factory`` (several worker processes): settings from the environment."""
    return create_app(Settings())


def create_app(settings: Settings, engine: CdsEngine | None = None) -> FastAPI:
    cds = engine or build_engine(settings)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        await run_in_threadpool(cds.warm)
        gc.collect()
        gc.freeze()  # start-up objects (models, libraries) leave the collector's generations

        async def refresh_forever() -> None:
            while True:
                await asyncio.sleep(REFRESH_SECONDS)
                await run_in_threadpool(cds.warm)

        task = asyncio.create_task(refresh_forever())
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            cds.store.close()

    app = FastAPI(title="medlake CDS Hooks", version="2.0", lifespan=lifespan)
    app.add_middleware(
        CORSMiddleware, allow_origins=["*"], allow_methods=["GET", "POST", "OPTIONS"], allow_headers=["*"]
    )
    app.include_router(make_router(cds))
    app.state.cds = cds
    return app
