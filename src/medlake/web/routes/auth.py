"""Login, logout and the home redirect.

The login form carries a signed, time-limited token (login CSRF); a successful login opens a
server-side session whose random token goes in an HttpOnly, SameSite=Lax cookie (Secure over https).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy.orm import Session

from medlake import audit
from medlake.errors import AuthenticationFailed
from medlake.web.deps import SESSION_COOKIE, get_db, require, settings_of
from medlake.web.services.accounts import SESSION_TTL, Principal, authenticate, close_session, open_session
from medlake.web.templating import render

router = APIRouter(include_in_schema=False)
LOGIN_TOKEN_AGE = 3600


def _serializer(request: Request) -> URLSafeTimedSerializer:
    secret = settings_of(request).secret_key.get_secret_value()
    return URLSafeTimedSerializer(secret, salt="medlake-login")


def safe_next(target: str | None) -> str:
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/dashboard"


def set_session_cookie(request: Request, response: Response, token: str) -> None:
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=int(SESSION_TTL.total_seconds()),
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
        path="/",
    )


def _login_page(request: Request, next_url: str, error: str = "", status: int = 200) -> HTMLResponse:
    token = _serializer(request).dumps("login")
    return render(request, "login.html", {"login_token": token, "next": next_url, "error": error}, status)


@router.get("/", response_class=RedirectResponse)
def home(_: Annotated[Principal | None, require("public")]) -> RedirectResponse:
    return RedirectResponse("/dashboard", status_code=303)


@router.get("/login", response_class=HTMLResponse)
def login_form(
    request: Request, _: Annotated[Principal | None, require("public")], next: str = ""
) -> HTMLResponse:
    return _login_page(request, safe_next(next))


@router.post("/login", response_model=None)
def login(
    request: Request,
    _: Annotated[Principal | None, require("public")],
    db: Annotated[Session, Depends(get_db, scope="function")],
    username: Annotated[str, Form(max_length=64)],
    password: Annotated[str, Form(max_length=256)],
    login_token: Annotated[str, Form(max_length=512)] = "",
    next: Annotated[str, Form(max_length=512)] = "",
) -> Response:
    try:
        _serializer(request).loads(login_token, max_age=LOGIN_TOKEN_AGE)
    except BadSignature:
        return _login_page(request, safe_next(next), "login.expired", 400)
    try:
        user = authenticate(db, username, password)
    except AuthenticationFailed as exc:
        db.commit()  # keep the failure count and the audit entry
        key = "login.locked" if "locked" in exc.message else "login.failed"
        return _login_page(request, safe_next(next), key, 401)
    token, _principal = open_session(db, user)
    db.commit()  # before the redirect goes out: the browser's next request must find the session
    response = RedirectResponse(safe_next(next), status_code=303)
    set_session_cookie(request, response, token)
    return response


@router.post("/logout")
def logout(
    request: Request,
    principal: Annotated[Principal, require("authenticated")],
    db: Annotated[Session, Depends(get_db, scope="function")],
) -> RedirectResponse:
    close_session(db, request.cookies.get(SESSION_COOKIE))
    audit.append(db, principal.username, "logout", f"user:{principal.username}", {})
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response
