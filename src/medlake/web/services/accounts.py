"""Accounts, login with lockout, browser sessions, research projects and their members."""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from medlake import audit
from medlake.errors import AuthenticationFailed, NotFound, ValidationFailed
from medlake.store.models import Project, ProjectMember, User, WebSession, utcnow
from medlake.web.passwords import hash_password, needs_rehash, verify_password
from medlake.web.permissions import roles

MAX_FAILED_LOGINS = 5
LOCKOUT = timedelta(minutes=15)
SESSION_TTL = timedelta(hours=8)
MIN_PASSWORD = 8
_USERNAME_RE = re.compile(r"^[A-Za-z0-9_.\-]{2,64}$")
_CODE_RE = re.compile(r"^[A-Za-z0-9_\-]{2,64}$")


@dataclass(frozen=True)
class Principal:
    """Who is calling: what every permission check and audit entry needs."""

    user_id: int
    username: str
    role: str
    csrf_token: str


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("ascii", "replace")).hexdigest()


def get_user(session: Session, username: str) -> User | None:
    return session.execute(select(User).where(User.username == username)).scalar_one_or_none()


def create_user(session: Session, username: str, role: str, password: str, *, display_name: str = "") -> User:
    if not _USERNAME_RE.match(username):
        raise ValidationFailed(
            f"invalid username {username!r}", hint="2-64 letters, digits, '_', '.' or '-'."
        )
    if role not in roles():
        raise ValidationFailed(f"unknown role {role!r}", hint=f"one of {', '.join(roles())}")
    if len(password) < MIN_PASSWORD:
        raise ValidationFailed(f"password too short (at least {MIN_PASSWORD} characters)")
    if get_user(session, username) is not None:
        raise ValidationFailed(f"user {username!r} already exists")
    user = User(
        username=username, role=role, password_hash=hash_password(password), display_name=display_name
    )
    session.add(user)
    session.flush()
    return user


def authenticate(session: Session, username: str, password: str, *, now: datetime | None = None) -> User:
    """The user if the password is right and the account not locked; every outcome is audited.

    The caller must commit even when this raises, so the failure count and audit entry persist.
    """
    now = now or utcnow()
    user = get_user(session, username)
    if user is None or not user.is_active:
        verify_password(None, password)
        audit.append(session, username[:64], "login.failure", f"user:{username[:64]}", {"reason": "unknown"})
        raise AuthenticationFailed("wrong username or password")
    if user.locked_until is not None and user.locked_until > now:
        audit.append(session, user.username, "login.locked", f"user:{user.username}", {})
        raise AuthenticationFailed("account locked after too many failed attempts; try again later")
    if not verify_password(user.password_hash, password):
        user.failed_logins += 1
        details: dict[str, object] = {"failed_logins": user.failed_logins}
        if user.failed_logins >= MAX_FAILED_LOGINS:
            user.locked_until = now + LOCKOUT
            user.failed_logins = 0
            details["locked_until"] = user.locked_until.isoformat()
        audit.append(session, user.username, "login.failure", f"user:{user.username}", details)
        raise AuthenticationFailed("wrong username or password")
    user.failed_logins = 0
    user.locked_until = None
    user.last_login_at = now
    if needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    audit.append(session, user.username, "login.success", f"user:{user.username}", {})
    return user


def open_session(session: Session, user: User, *, now: datetime | None = None) -> tuple[str, Principal]:
    """A new browser session: returns the cookie token (only its hash is stored)."""
    now = now or utcnow()
    token = secrets.token_urlsafe(32)
    csrf = secrets.token_urlsafe(32)
    session.execute(delete(WebSession).where(WebSession.expires_at < now))
    session.add(
        WebSession(
            token_hash=_token_hash(token), user_id=user.id, csrf_token=csrf, expires_at=now + SESSION_TTL
        )
    )
    session.flush()
    return token, Principal(user.id, user.username, user.role, csrf)


def resolve_session(session: Session, token: str | None, *, now: datetime | None = None) -> Principal | None:
    if not token:
        return None
    now = now or utcnow()
    row = session.execute(
        select(WebSession, User)
        .join(User, User.id == WebSession.user_id)
        .where(WebSession.token_hash == _token_hash(token))
    ).first()
    if row is None:
        return None
    ws, user = row
    if ws.expires_at < now or not user.is_active:
        return None
    return Principal(user.id, user.username, user.role, ws.csrf_token)


def close_session(session: Session, token: str | None) -> None:
    if token:
        session.execute(delete(WebSession).where(WebSession.token_hash == _token_hash(token)))


# -- projects ---------------------------------------------------------------------------------
def create_project(
    session: Session, code: str, title: str, *, description: str = "", created_by: str = ""
) -> Project:
    if not _CODE_RE.match(code):
        raise ValidationFailed(f"invalid project code {code!r}", hint="2-64 letters, digits, '_' or '-'.")
    if session.execute(select(Project).where(Project.code == code)).scalar_one_or_none() is not None:
        raise ValidationFailed(f"project {code!r} already exists")
    project = Project(code=code, title=title or code, description=description, created_by=created_by)
    session.add(project)
    session.flush()
    return project


def get_project(session: Session, project_id: int) -> Project:
    project = session.get(Project, project_id)
    if project is None:
        raise NotFound(f"no project {project_id}")
    return project


def project_by_code(session: Session, code: str) -> Project:
    project = session.execute(select(Project).where(Project.code == code)).scalar_one_or_none()
    if project is None:
        raise NotFound(f"no project {code!r}")
    return project


def add_member(
    session: Session, project: Project, username: str, *, project_role: str = "member"
) -> ProjectMember:
    if project_role not in ("owner", "member"):
        raise ValidationFailed(f"project role must be owner or member, not {project_role!r}")
    user = get_user(session, username)
    if user is None:
        raise NotFound(f"no user {username!r}")
    existing = session.get(ProjectMember, (project.id, user.id))
    if existing is not None:
        existing.project_role = project_role
        return existing
    member = ProjectMember(project_id=project.id, user_id=user.id, project_role=project_role)
    session.add(member)
    session.flush()
    return member


def is_member(session: Session, project_id: int, user_id: int) -> bool:
    return session.get(ProjectMember, (project_id, user_id)) is not None


def projects_of(session: Session, user_id: int | None) -> list[Project]:
    """Projects a user belongs to (all projects when ``user_id`` is None)."""
    q = select(Project).order_by(Project.code)
    if user_id is not None:
        q = q.join(ProjectMember, ProjectMember.project_id == Project.id).where(
            ProjectMember.user_id == user_id
        )
    return list(session.execute(q).scalars())
