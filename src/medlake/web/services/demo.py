"""Demo accounts for `make demo`: one user per role and two demo projects, with printed passwords."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from medlake import audit
from medlake.settings import Settings
from medlake.store.engine import session_scope
from medlake.store.migrate import upgrade
from medlake.store.models import Project
from medlake.web.passwords import hash_password, random_password
from medlake.web.services.accounts import add_member, create_project, create_user, get_user

DEMO_USERS = (
    ("admin", "admin", "演示管理员"),
    ("steward", "steward", "演示数据管理员"),
    ("researcher", "researcher", "演示研究者"),
    ("researcher2", "researcher", "演示研究者（其他项目）"),
    ("clinician", "clinician", "演示临床医生"),
)
DEMO_PROJECTS = (
    ("demo", "演示研究项目 Demo study", ("researcher",)),
    ("demo-other", "其他研究项目 Another study", ("researcher2",)),
)


def _ensure_user(session: Session, username: str, role: str, display: str, password: str) -> None:
    user = get_user(session, username)
    if user is None:
        create_user(session, username, role, password, display_name=display)
        return
    user.password_hash = hash_password(password)
    user.role = role
    user.failed_logins = 0
    user.locked_until = None


def create_demo_accounts(settings: Settings, *, password: str | None = None) -> dict[str, str]:
    """Create (or reset) the demo users and projects; returns username → password.

    ``password`` fixes every password (tests); otherwise each gets a fresh random one.
    """
    upgrade(settings)
    out: dict[str, str] = {}
    with session_scope(settings) as session:
        for username, role, display in DEMO_USERS:
            pw = password or random_password()
            _ensure_user(session, username, role, display, pw)
            out[username] = pw
        session.flush()
        for code, title, members in DEMO_PROJECTS:
            project = session.execute(select(Project).where(Project.code == code)).scalar_one_or_none()
            if project is None:
                project = create_project(session, code, title, created_by="admin")
            for name in members:
                add_member(session, project, name, project_role="owner")
        audit.append(session, "system", "demo.accounts", "users", {"users": sorted(out)})
    return out
