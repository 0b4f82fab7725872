"""The export request workflow: request → approval by a steward → build → download by the requester.

States: draft → submitted → approved | rejected; approved → built → downloaded; built / downloaded →
expired. Every transition (and every refused attempt) is written to the hash-chained audit log in
the same transaction as the state change. Rules: a researcher requests for a project they belong
to, stating a purpose, the fields and the data-use agreement they accept; a steward other than the
requester approves or rejects with a comment; only the requester downloads, and only until the
package expires (``Settings.export_expiry_days`` after the build).
"""

from __future__ import annotations

import json
import shutil
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from medlake import audit
from medlake.errors import (
    ExportExpired,
    ExportStateError,
    NotFound,
    PermissionDenied,
    ReleaseBlocked,
    ValidationFailed,
)
from medlake.export.catalog import SavedSpec, parse_spec
from medlake.export.columns import spec_columns
from medlake.export.formats import FORMATS
from medlake.export.models import ExportEvent, ExportRequest
from medlake.export.package import PackageInfo, sha256_file
from medlake.export.pipeline import Progress, release
from medlake.settings import Settings
from medlake.store.models import Project, ProjectMember, User, utcnow

CURRENT_DUA = "dua-v1"
AGREEMENTS = Path(__file__).resolve().parent / "agreements"

_ALLOWED: dict[str, set[str]] = {
    "draft": {"submitted"},
    "submitted": {"approved", "rejected"},
    "approved": {"built", "expired"},
    "built": {"downloaded", "expired"},
    "downloaded": {"downloaded", "expired"},
    "rejected": set(),
    "expired": set(),
}


def dua_text(version: str = CURRENT_DUA) -> str:
    path = AGREEMENTS / f"{version}.txt"
    if "/" in version or not path.is_file():
        raise NotFound(f"no data-use agreement {version!r}")
    return path.read_text(encoding="utf-8")


@dataclass(frozen=True)
class Actor:
    username: str
    role: str


def has_permission(role: str, permission: str) -> bool:
    """The roles table of the application (``medlake/web/roles.json``) decides: ``export``, ``export.approve``."""
    from medlake.web.permissions import has_permission as allowed

    return allowed(role, permission)


class ExportWorkflow:
    def __init__(self, session: Session, settings: Settings, *, now: Callable[[], datetime] = utcnow) -> None:
        self.session = session
        self.settings = settings
        self.now = now

    # -- people ---------------------------------------------------------------------------------
    def actor(self, username: str) -> Actor:
        user = self.session.execute(select(User).where(User.username == username)).scalar_one_or_none()
        if user is None or not user.is_active:
            raise PermissionDenied(
                f"unknown or inactive user {username!r}", hint="`medlake user add` creates one."
            )
        return Actor(user.username, user.role)

    def is_member(self, project: str, username: str) -> bool:
        row = self.session.execute(
            select(ProjectMember)
            .join(Project, Project.id == ProjectMember.project_id)
            .join(User, User.id == ProjectMember.user_id)
            .where(Project.code == project, User.username == username)
        ).first()
        return row is not None

    def refuse(self, req: ExportRequest | None, actor: str, attempt: str, reason: str) -> PermissionDenied:
        """Record a refused attempt in the audit chain (committed: a refusal is evidence too)."""
        obj = f"export_request:{req.id}" if req is not None else "export_request:new"
        audit.append(self.session, actor, "export.refused", obj, {"attempt": attempt, "reason": reason})
        self.session.commit()
        return PermissionDenied(reason)

    # -- state ----------------------------------------------------------------------------------
    def get(self, request_id: int, *, lock: bool = False) -> ExportRequest:
        """The request; ``lock`` takes its row lock (PostgreSQL) so two transitions cannot interleave."""
        req = self.session.get(ExportRequest, request_id, with_for_update=lock, populate_existing=lock)
        if req is None:
            raise NotFound(f"no export request {request_id}")
        return req

    def _transition(
        self,
        req: ExportRequest,
        actor: str,
        to_state: str,
        comment: str = "",
        details: dict[str, Any] | None = None,
    ) -> None:
        if to_state not in _ALLOWED[req.state]:
            raise ExportStateError(f"export request {req.id} is {req.state}; it cannot become {to_state}")
        from_state = req.state
        req.state = to_state
        req.events.append(
            ExportEvent(actor=actor, from_state=from_state, to_state=to_state, comment=comment, at=self.now())
        )
        audit.append(
            self.session,
            actor,
            f"export.{to_state}",
            f"export_request:{req.id}",
            {
                "from": from_state,
                "to": to_state,
                "project": req.project,
                "dataset": req.dataset_name,
                "version": req.dataset_version,
                "comment": comment,
                **(details or {}),
            },
        )
        self.session.flush()

    # -- the steps ------------------------------------------------------------------------------
    def request(
        self,
        username: str,
        saved: SavedSpec,
        *,
        purpose: str,
        fields: list[str],
        dua_version: str,
        accept_dua: bool,
        formats: list[str],
        submit: bool = True,
    ) -> ExportRequest:
        actor = self.actor(username)
        if not has_permission(actor.role, "export"):
            raise self.refuse(None, username, "request", f"role {actor.role!r} may not request exports")
        spec = saved.spec
        if actor.role != "admin" and not self.is_member(spec.project, username):
            raise self.refuse(
                None, username, "request", f"{username!r} is not a member of project {spec.project!r}"
            )
        if not purpose.strip():
            raise ValidationFailed("state the purpose of the export")
        if dua_version != CURRENT_DUA or not accept_dua:
            raise ValidationFailed(
                f"the data-use agreement {CURRENT_DUA} must be accepted",
                hint="Read it (`medlake export dua`) and pass --accept-dua --dua " + CURRENT_DUA,
            )
        known_fields = {c.name for c in spec_columns(spec)}
        bad = sorted(set(fields) - known_fields)
        if bad:
            raise ValidationFailed(
                f"fields not in dataset {spec.name}: {', '.join(bad)}",
                hint=f"Columns: {', '.join(sorted(known_fields))}",
            )
        unknown = [f for f in formats if f not in FORMATS]
        if unknown or not formats:
            raise ValidationFailed(f"unknown export formats: {unknown}", hint=f"Known: {', '.join(FORMATS)}")
        req = ExportRequest(
            project=spec.project,
            dataset_name=spec.name,
            dataset_version=spec.version,
            spec_json=spec.model_dump_json(),
            spec_sha256=saved.sha256,
            requester=username,
            purpose=purpose.strip(),
            fields_json=json.dumps(fields, ensure_ascii=False),
            formats=",".join(formats),
            dua_version=dua_version,
            dua_accepted_at=self.now(),
            state="draft",
            created_at=self.now(),
        )
        self.session.add(req)
        self.session.flush()
        audit.append(
            self.session,
            username,
            "export.draft",
            f"export_request:{req.id}",
            {
                "project": req.project,
                "dataset": req.dataset_name,
                "version": req.dataset_version,
                "purpose": req.purpose,
                "fields": fields,
                "dua": dua_version,
                "spec_sha256": req.spec_sha256,
            },
        )
        if submit:
            self.submit(req.id, username)
        return req

    def submit(self, request_id: int, username: str) -> ExportRequest:
        req = self.get(request_id, lock=True)
        if username != req.requester:
            raise self.refuse(req, username, "submit", "only the requester submits a request")
        self._transition(req, username, "submitted")
        req.submitted_at = self.now()
        return req

    def _decide(self, request_id: int, username: str, to_state: str, comment: str) -> ExportRequest:
        req = self.get(request_id, lock=True)
        actor = self.actor(username)
        if not has_permission(actor.role, "export.approve"):
            raise self.refuse(req, username, to_state, f"{username!r} is not a data steward")
        if username == req.requester:
            raise self.refuse(
                req, username, to_state, "a steward cannot approve or reject their own export request"
            )
        self._transition(req, username, to_state, comment)
        req.steward = username
        req.steward_comment = comment
        req.decided_at = self.now()
        return req

    def approve(self, request_id: int, username: str, comment: str = "") -> ExportRequest:
        return self._decide(request_id, username, "approved", comment)

    def reject(self, request_id: int, username: str, comment: str) -> ExportRequest:
        if not comment.strip():
            raise ValidationFailed("a rejection needs a comment saying why")
        return self._decide(request_id, username, "rejected", comment)

    def package_dir(self, req: ExportRequest) -> Path:
        return self.settings.data_dir / "exports" / f"request-{req.id}"

    def build(self, request_id: int, username: str, progress: Progress | None = None) -> PackageInfo:
        req = self.get(request_id, lock=True)
        actor = self.actor(username)
        if username != req.requester and not has_permission(actor.role, "export.approve"):
            raise self.refuse(req, username, "build", "only the requester or a steward builds a package")
        if req.state != "approved":
            raise ExportStateError(
                f"export request {req.id} is {req.state}; only an approved request is built"
            )
        spec = parse_spec(req.spec_json)
        meta = {
            "request_id": req.id,
            "requester": req.requester,
            "steward": req.steward or "",
            "purpose": req.purpose,
            "dua_version": req.dua_version,
            "spec_sha256": req.spec_sha256,
        }
        try:
            info = release(
                spec,
                data_dir=self.settings.data_dir,
                dest=self.package_dir(req),
                formats=req.formats.split(","),
                fields=json.loads(req.fields_json),
                meta=meta,
                progress=progress,
            )
        except ReleaseBlocked as exc:
            audit.append(
                self.session,
                username,
                "export.release_blocked",
                f"export_request:{req.id}",
                {"findings_by_type": exc.findings.get("findings_by_type", {})},
            )
            self.session.commit()
            raise
        req.built_at = self.now()
        req.expires_at = req.built_at + timedelta(days=self.settings.export_expiry_days)
        req.package_path = str(info.path)
        req.manifest_sha256 = info.manifest_sha256
        report = json.loads((info.path / "deid_report.json").read_text(encoding="utf-8"))
        req.report_json = json.dumps(report, ensure_ascii=False)
        self._transition(
            req,
            username,
            "built",
            details={
                "manifest_sha256": info.manifest_sha256,
                "rows": info.rows,
                "files_scanned": info.scan.files_scanned,
                "k": (report.get("k_anonymity") or {}).get("k"),
            },
        )
        return info

    def _expire(self, req: ExportRequest, actor: str) -> None:
        if req.package_path:
            shutil.rmtree(req.package_path, ignore_errors=True)
        self._transition(req, actor, "expired", details={"expired_at": str(req.expires_at)})

    def download(self, request_id: int, username: str, out_dir: Path) -> Path:
        req = self.get(request_id, lock=True)
        if username != req.requester:
            raise self.refuse(req, username, "download", "only the requester may download this package")
        if req.state not in ("built", "downloaded"):
            raise ExportStateError(f"export request {req.id} is {req.state}; nothing to download")
        if req.expires_at is not None and self.now() > req.expires_at:
            self._expire(req, "system")
            self.session.commit()
            raise ExportExpired(
                f"the package of export request {req.id} expired on {req.expires_at:%Y-%m-%d}"
            )
        pkg = Path(req.package_path or "")
        if not (pkg / "manifest.json").exists() or sha256_file(pkg / "manifest.json") != req.manifest_sha256:
            raise ValidationFailed(f"the package of export request {req.id} is missing or was changed")
        manifest = json.loads((pkg / "manifest.json").read_text(encoding="utf-8"))
        for rel, info in manifest["files"].items():
            if sha256_file(pkg / rel) != info["sha256"]:
                raise ValidationFailed(f"package file {rel} does not match its manifest")
        out_dir.mkdir(parents=True, exist_ok=True)
        target = out_dir / f"{req.dataset_name}-v{req.dataset_version}-request{req.id}.zip"
        tmp = target.with_name(f".{target.name}.tmp")
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as zf:
            for p in sorted(q for q in pkg.rglob("*") if q.is_file()):
                zf.write(p, arcname=str(p.relative_to(pkg)))
        tmp.replace(target)
        req.downloaded_at = self.now()
        self._transition(req, username, "downloaded", details={"sha256": sha256_file(target)})
        return target

    def expire_due(self, username: str = "system") -> list[int]:
        now = self.now()
        due = (
            self.session.execute(
                select(ExportRequest).where(
                    ExportRequest.state.in_(("built", "downloaded")), ExportRequest.expires_at < now
                )
            )
            .scalars()
            .all()
        )
        for req in due:
            self._expire(req, username)
        return [r.id for r in due]

    def visible_to(self, username: str) -> list[ExportRequest]:
        """A steward (or admin) sees every request; anyone else their own."""
        actor = self.actor(username)
        q = select(ExportRequest).order_by(ExportRequest.id)
        if not has_permission(actor.role, "export.approve"):
            q = q.where(ExportRequest.requester == username)
        return list(self.session.execute(q).scalars())


def summary(req: ExportRequest) -> dict[str, Any]:
    return {
        "id": req.id,
        "project": req.project,
        "dataset": req.dataset_name,
        "version": req.dataset_version,
        "requester": req.requester,
        "state": req.state,
        "purpose": req.purpose,
        "steward": req.steward,
        "steward_comment": req.steward_comment,
        "formats": req.formats,
        "fields": json.loads(req.fields_json),
        "expires_at": req.expires_at.isoformat() if req.expires_at else None,
        "manifest_sha256": req.manifest_sha256,
    }
