"""Who may publish: the application store's users as a ``UserDirectory``, and audit entries.

A steward is an active user whose role is ``steward``. Registry stage changes made through the
CLI or the web are written to the hash-chained audit log.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from medlake.settings import Settings


class StoreUsers:
    """Users of the application store (``medlake.store``)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def has_role(self, username: str, role: str) -> bool:
        from medlake.store import User, session_scope

        with session_scope(self.settings) as session:
            user = session.execute(select(User).where(User.username == username)).scalar_one_or_none()
            return user is not None and bool(user.is_active) and user.role == role


def audit(settings: Settings, actor: str, action: str, obj: str, details: dict[str, Any]) -> None:
    """Append one entry to the audit chain (model registry actions)."""
    from medlake.audit import append
    from medlake.store import session_scope

    with session_scope(settings) as session:
        append(session, actor, action, obj, details)
