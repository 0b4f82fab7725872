"""Jinja2 rendering with the translator, the caller and their permissions in every template."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

import jinja2
from fastapi.templating import Jinja2Templates
from starlette.requests import Request
from starlette.responses import HTMLResponse

from medlake.web.features import FEATURE_NAV, FEATURE_TEMPLATE_DIRS
from medlake.web.i18n import translator
from medlake.web.permissions import has_permission

TEMPLATES = Path(__file__).with_name("templates")


@lru_cache(maxsize=1)
def templates() -> Jinja2Templates:
    loaders: list[jinja2.BaseLoader] = [jinja2.FileSystemLoader(str(TEMPLATES))]
    for spec in FEATURE_TEMPLATE_DIRS:
        package, _, folder = spec.partition(":")
        loaders.append(jinja2.PackageLoader(package, folder or "templates"))
    env = jinja2.Environment(loader=jinja2.ChoiceLoader(loaders), autoescape=True)
    return Jinja2Templates(env=env)


def render(
    request: Request, name: str, context: dict[str, Any] | None = None, status_code: int = 200
) -> HTMLResponse:
    lang = getattr(request.state, "lang", "zh")
    principal = getattr(request.state, "principal", None)
    ctx: dict[str, Any] = {
        "t": translator(lang),
        "lang": lang,
        "principal": principal,
        "can": (lambda perm: principal is not None and has_permission(principal.role, perm)),
        "csrf_token": principal.csrf_token if principal is not None else "",
        "path": request.url.path,
        "feature_nav": FEATURE_NAV,
    }
    ctx.update(context or {})
    response: HTMLResponse = templates().TemplateResponse(request, name, ctx, status_code=status_code)
    return response
