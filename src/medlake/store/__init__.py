"""The application store: users, projects, web sessions and the audit chain, in SQLAlchemy 2.

SQLite in the data dir by default, PostgreSQL when ``MEDLAKE_DATABASE_URL`` says so. The schema
is owned by the Alembic migrations in ``medlake/store/migrations`` (applied by ``medlake db
upgrade`` and on web start). Features that need tables add a model to their own module on
``Base`` and a new revision file under ``migrations/versions``.
"""

from medlake.store.engine import make_engine, session_factory, session_scope
from medlake.store.migrate import current_revision, head_revision, upgrade
from medlake.store.models import (
    AuditEntry,
    AuditState,
    Base,
    Project,
    ProjectMember,
    User,
    WebSession,
    utcnow,
)

__all__ = [
    "AuditEntry",
    "AuditState",
    "Base",
    "Project",
    "ProjectMember",
    "User",
    "WebSession",
    "current_revision",
    "head_revision",
    "make_engine",
    "session_factory",
    "session_scope",
    "upgrade",
    "utcnow",
]
