"""Roles and permissions, read strictly from ``roles.json`` beside this module.

Every permission a route may declare is listed in the file with its meaning; a role naming an
unknown permission is an error. ``public`` is the declaration for routes anyone may call;
``authenticated`` for any logged-in user. Features add their permissions to the file.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from medlake.errors import ConfigError

ROLES_FILE = Path(__file__).with_name("roles.json")
PUBLIC = "public"
AUTHENTICATED = "authenticated"


@dataclass(frozen=True)
class RoleTable:
    permissions: dict[str, str]
    roles: dict[str, frozenset[str]]

    def allows(self, role: str, permission: str) -> bool:
        if permission == PUBLIC:
            return True
        return permission in self.roles.get(role, frozenset())


def parse_roles(text: str) -> RoleTable:
    raw = json.loads(text)
    if not isinstance(raw, dict) or set(raw) != {"permissions", "roles"}:
        raise ConfigError("roles.json must have exactly the keys 'permissions' and 'roles'")
    perms = raw["permissions"]
    if not isinstance(perms, dict) or not all(isinstance(v, str) for v in perms.values()):
        raise ConfigError("roles.json 'permissions' maps each permission to its description")
    roles: dict[str, frozenset[str]] = {}
    for role, granted in raw["roles"].items():
        if not isinstance(granted, list):
            raise ConfigError(f"roles.json role {role!r} must list permissions")
        unknown = set(granted) - set(perms)
        if unknown:
            raise ConfigError(f"roles.json role {role!r} grants unknown permissions {sorted(unknown)}")
        roles[role] = frozenset(granted)
    return RoleTable(dict(perms), roles)


@lru_cache(maxsize=1)
def role_table() -> RoleTable:
    return parse_roles(ROLES_FILE.read_text(encoding="utf-8"))


def roles() -> list[str]:
    return list(role_table().roles)


def has_permission(role: str, permission: str) -> bool:
    return role_table().allows(role, permission)


def check_known(permission: str) -> None:
    if permission not in role_table().permissions:
        raise ConfigError(f"unknown permission {permission!r}; add it to {ROLES_FILE.name}")
