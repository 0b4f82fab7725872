"""The model registry: versions of each task's models, their stages and their artifacts.

Layout under ``<data dir>/models``::

    <task>/v<N>/manifest.json   stage, history, spec, preprocessing, metrics, artifact sha256s
    <task>/v<N>/<artifacts>     model.txt (LightGBM) / model.json, training.npz, card.md, ...

Stages go draft → validated → published → retired. Publishing needs a steward: a user with the
``steward`` role who is not the trainer (``UserDirectory`` says who is who). Publishing a version
retires the task's previously published one. Every artifact is written aside then renamed, and
its sha256 is checked again when it is read.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from medlake.errors import NotFound, PermissionDenied, ValidationFailed

STAGES = ("draft", "validated", "published", "retired")
TRANSITIONS = {
    "draft": {"validated", "retired"},
    "validated": {"published", "retired", "draft"},
    "published": {"retired"},
    "retired": set(),
}
_TASK_RE = re.compile(r"^[a-z][a-z0-9_]{0,62}$")


class UserDirectory(Protocol):
    """Who holds which role (the application store's users implement this)."""

    def has_role(self, username: str, role: str) -> bool: ...


class StaticDirectory:
    """A fixed ``{username: {roles}}`` map (tests, and deployments without the app store)."""

    def __init__(self, roles: dict[str, set[str]]) -> None:
        self.roles = roles

    def has_role(self, username: str, role: str) -> bool:
        return role in self.roles.get(username, set())


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _now() -> str:
    return datetime.now(UTC).replace(microsecond=0).isoformat()


def _write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


class Registry:
    def __init__(self, data_dir: Path) -> None:
        self.root = Path(data_dir) / "models"

    # -- locking and paths ------------------------------------------------------------------------
    @contextmanager
    def _locked(self) -> Iterator[None]:
        self.root.mkdir(parents=True, exist_ok=True)
        with open(self.root / ".registry.lock", "a+") as fh:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh.fileno(), fcntl.LOCK_UN)

    def version_dir(self, task: str, version: int) -> Path:
        if not _TASK_RE.match(task):
            raise ValidationFailed(f"invalid task name {task!r}")
        return self.root / task / f"v{int(version)}"

    # -- reading ----------------------------------------------------------------------------------
    def tasks(self) -> list[str]:
        if not self.root.exists():
            return []
        return sorted(p.name for p in self.root.iterdir() if p.is_dir() and _TASK_RE.match(p.name))

    def versions(self, task: str) -> list[int]:
        d = self.root / task
        if not _TASK_RE.match(task) or not d.exists():
            return []
        return sorted(int(p.name[1:]) for p in d.iterdir() if re.fullmatch(r"v\d+", p.name))

    def manifest(self, task: str, version: int) -> dict[str, Any]:
        path = self.version_dir(task, version) / "manifest.json"
        if not path.exists():
            raise NotFound(
                f"model {task} v{version} not found", hint="`medlake model list` shows the registry."
            )
        data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        return data

    def entries(self, stage: str | None = None) -> list[dict[str, Any]]:
        out = []
        for task in self.tasks():
            for v in self.versions(task):
                m = self.manifest(task, v)
                if stage is None or m["stage"] == stage:
                    out.append(m)
        return out

    def state(self) -> tuple[tuple[str, int, int, int], ...]:
        """A cheap fingerprint of every manifest (stat only): it changes when any version changes.

        Manifests are replaced atomically (new inode), so a stage change or a new version is seen
        without reading and parsing every manifest.
        """
        out = []
        for task in self.tasks():
            for v in self.versions(task):
                try:
                    st = (self.root / task / f"v{v}" / "manifest.json").stat()
                except FileNotFoundError:
                    continue
                out.append((f"{task}/v{v}", st.st_ino, st.st_mtime_ns, st.st_size))
        return tuple(out)

    def published(self) -> list[dict[str, Any]]:
        return self.entries("published")

    def read_artifact(self, task: str, version: int, name: str) -> bytes:
        m = self.manifest(task, version)
        entry = m["artifacts"].get(name)
        if entry is None:
            raise NotFound(f"model {task} v{version} has no artifact {name!r}")
        data = (self.version_dir(task, version) / entry["file"]).read_bytes()
        if sha256_bytes(data) != entry["sha256"]:
            raise ValidationFailed(
                f"artifact {name} of {task} v{version} does not match its sha256",
                hint="The file was changed after registration; retrain or restore it.",
            )
        return data

    # -- writing ----------------------------------------------------------------------------------
    def register(self, manifest: dict[str, Any], artifacts: dict[str, tuple[str, bytes]]) -> dict[str, Any]:
        """Store a new draft version; ``artifacts`` maps a name to ``(file name, bytes)``."""
        task = manifest["task"]
        with self._locked():
            existing = self.versions(task)
            version = (existing[-1] + 1) if existing else 1
            d = self.version_dir(task, version)
            d.mkdir(parents=True)
            entries = {}
            for name, (file, data) in artifacts.items():
                if "/" in file or file.startswith("."):
                    raise ValidationFailed(f"invalid artifact file name {file!r}")
                _write_atomic(d / file, data)
                entries[name] = {"file": file, "sha256": sha256_bytes(data), "bytes": len(data)}
            out = dict(manifest)
            out |= {"version": version, "stage": "draft", "created_at": _now(), "artifacts": entries}
            out["history"] = [{"stage": "draft", "at": out["created_at"], "by": manifest.get("trainer")}]
            self._save(out)
        return out

    def add_artifact(self, task: str, version: int, name: str, file: str, data: bytes) -> None:
        with self._locked():
            m = self.manifest(task, version)
            _write_atomic(self.version_dir(task, version) / file, data)
            m["artifacts"][name] = {"file": file, "sha256": sha256_bytes(data), "bytes": len(data)}
            self._save(m)

    def _save(self, m: dict[str, Any]) -> None:
        path = self.version_dir(m["task"], m["version"]) / "manifest.json"
        _write_atomic(path, json.dumps(m, ensure_ascii=False, indent=2, sort_keys=True).encode())

    def transition(
        self,
        task: str,
        version: int,
        stage: str,
        *,
        by: str,
        users: UserDirectory | None = None,
        note: str = "",
    ) -> dict[str, Any]:
        if stage not in STAGES:
            raise ValidationFailed(f"unknown stage {stage!r}", hint=f"stages: {', '.join(STAGES)}")
        with self._locked():
            m = self.manifest(task, version)
            if stage not in TRANSITIONS[m["stage"]]:
                raise ValidationFailed(f"{task} v{version} is {m['stage']}; it cannot become {stage}")
            if stage == "published":
                if users is None or not users.has_role(by, "steward"):
                    raise PermissionDenied(f"{by!r} is not a data steward; only stewards publish models")
                if by == m.get("trainer"):
                    raise PermissionDenied("a model is published by a steward other than its trainer")
                for other in self.versions(task):
                    if other != version:
                        om = self.manifest(task, other)
                        if om["stage"] == "published":
                            om["stage"] = "retired"
                            om["history"].append(
                                {
                                    "stage": "retired",
                                    "at": _now(),
                                    "by": by,
                                    "note": f"superseded by v{version}",
                                }
                            )
                            self._save(om)
                m["published_at"] = _now()
                m["published_by"] = by
            m["stage"] = stage
            m["history"].append({"stage": stage, "at": _now(), "by": by, "note": note})
            self._save(m)
        return m

    def latest(self, task: str, stage: str | None = None) -> dict[str, Any]:
        found = [
            m
            for m in (self.manifest(task, v) for v in self.versions(task))
            if stage is None or m["stage"] == stage
        ]
        if not found:
            raise NotFound(f"no {stage or ''} model of task {task}".replace("  ", " "))
        return found[-1]
