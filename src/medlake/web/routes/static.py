"""Vendored browser libraries served from their installed Python packages (never hand-copied)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter
from fastapi.responses import FileResponse

from medlake.errors import ConfigError
from medlake.web.deps import require
from medlake.web.services.accounts import Principal

router = APIRouter(include_in_schema=False)


@lru_cache(maxsize=1)
def plotly_js() -> Path:
    import plotly

    path = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
    if not path.is_file():
        raise ConfigError(
            "plotly.min.js not found in the installed plotly package", hint="pip install plotly"
        )
    return path


@router.get("/static/vendor/plotly.min.js")
def plotly_bundle(_: Annotated[Principal | None, require("public")]) -> FileResponse:
    return FileResponse(
        plotly_js(), media_type="text/javascript", headers={"Cache-Control": "public, max-age=86400"}
    )
