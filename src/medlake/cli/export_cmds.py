"""Dataset and export commands: ``medlake dataset create|preview|list`` and
``medlake export request|show|approve|reject|build|scan|download|list|dua|expire``.

Every command acts as a named user (``--user NAME``) checked against the application store's users
and roles; every state change is audited by ``medlake.export.workflow``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from medlake.cli.common import DataDirOption, JsonOption, print_json, settings_for
from medlake.errors import InputNotFound, ValidationFailed
from medlake.settings import Settings

UserOption = Annotated[str, typer.Option("--user", "-u", help="act as this user of the application store")]


def _store(settings: Settings) -> None:
    from medlake.store import upgrade

    upgrade(settings)


def _split_ref(ref: str) -> tuple[str, str, int | None]:
    """``PROJECT/NAME`` or ``PROJECT/NAME@VERSION``."""
    version: int | None = None
    if "@" in ref:
        ref, _, v = ref.partition("@")
        if not v.isdigit():
            raise ValidationFailed(f"bad dataset version in {ref!r}@{v}")
        version = int(v)
    project, _, name = ref.partition("/")
    if not project or not name:
        raise ValidationFailed(f"dataset reference {ref!r} must be PROJECT/NAME[@VERSION]")
    return project, name, version


def _check_member(settings: Settings, username: str, project: str) -> None:
    from medlake.export.workflow import ExportWorkflow
    from medlake.store import session_scope

    with session_scope(settings) as session:
        wf = ExportWorkflow(session, settings)
        actor = wf.actor(username)
        if actor.role != "admin" and not wf.is_member(project, username):
            raise wf.refuse(None, username, "dataset", f"{username!r} is not a member of project {project!r}")


def register(app: typer.Typer) -> None:
    dataset_app = typer.Typer(
        help="dataset specifications (cohort + variables), saved in a project", no_args_is_help=True
    )
    export_app = typer.Typer(help="export requests: request, approve, build, download", no_args_is_help=True)

    @dataset_app.command("create")
    def dataset_create(
        spec_file: Annotated[Path, typer.Argument(help="dataset specification (JSON)")],
        user: UserOption,
        data_dir: DataDirOption = None,
        as_json: JsonOption = False,
    ) -> None:
        """Validate a specification and save it as the next version of its dataset."""
        from medlake.export.catalog import DatasetCatalog, parse_spec

        if not spec_file.is_file():
            raise InputNotFound(f"no such file: {spec_file}")
        settings = settings_for(data_dir)
        _store(settings)
        spec = parse_spec(spec_file.read_text(encoding="utf-8"))
        _check_member(settings, user, spec.project)
        saved = DatasetCatalog(settings.data_dir).save(spec)
        out = {
            "project": saved.spec.project,
            "dataset": saved.spec.name,
            "version": saved.spec.version,
            "sha256": saved.sha256,
        }
        if as_json:
            print_json(out)
        else:
            typer.echo(f"dataset {saved.spec.project}/{saved.spec.name} version {saved.spec.version} saved")

    @dataset_app.command("list")
    def dataset_list(
        project: Annotated[str | None, typer.Option(help="only this project")] = None,
        data_dir: DataDirOption = None,
        as_json: JsonOption = False,
    ) -> None:
        """List the saved datasets (latest version of each)."""
        from medlake.export.catalog import DatasetCatalog

        settings = settings_for(data_dir)
        rows = [
            {
                "project": s.spec.project,
                "dataset": s.spec.name,
                "version": s.spec.version,
                "variables": len(s.spec.variables),
                "notes": s.spec.notes is not None,
                "k": s.spec.deid.k,
            }
            for s in DatasetCatalog(settings.data_dir).list(project)
        ]
        if as_json:
            print_json(rows)
            return
        for r in rows:
            typer.echo(
                f"{r['project']}/{r['dataset']}@{r['version']}  {r['variables']} variables  k={r['k']}"
                + ("  + notes" if r["notes"] else "")
            )

    @dataset_app.command("preview")
    def dataset_preview(
        ref: Annotated[str, typer.Argument(help="PROJECT/NAME[@VERSION]")],
        user: UserOption,
        rows: Annotated[int, typer.Option(help="rows per table")] = 10,
        data_dir: DataDirOption = None,
    ) -> None:
        """Show the first rows of the dataset exactly as they would leave (de-identified)."""
        from medlake import audit
        from medlake.export.builder import preview
        from medlake.export.catalog import DatasetCatalog
        from medlake.privacy.keys import ProjectKey
        from medlake.store import session_scope

        settings = settings_for(data_dir)
        _store(settings)
        project, name, version = _split_ref(ref)
        _check_member(settings, user, project)
        saved = DatasetCatalog(settings.data_dir).load(project, name, version)
        out = preview(
            saved.spec, settings.data_dir, ProjectKey.load_or_create(settings.data_dir, project), rows=rows
        )
        with session_scope(settings) as session:
            audit.append(
                session,
                user,
                "dataset.preview",
                f"dataset:{project}/{name}@{saved.spec.version}",
                {"rows": rows},
            )
        print_json(out)

    # -- export requests --------------------------------------------------------------------------
    @export_app.command("request")
    def export_request(
        ref: Annotated[str, typer.Argument(help="PROJECT/NAME[@VERSION]")],
        user: UserOption,
        purpose: Annotated[str, typer.Option(help="what the data are for")],
        dua: Annotated[str, typer.Option("--dua", help="version of the data-use agreement accepted")] = "",
        accept_dua: Annotated[
            bool, typer.Option("--accept-dua", help="I accept the data-use agreement")
        ] = False,
        fields: Annotated[str, typer.Option(help="comma-separated output columns (default: all)")] = "",
        fmt: Annotated[
            list[str] | None, typer.Option("--format", help="parquet, csv, csv-excel (repeatable)")
        ] = None,
        data_dir: DataDirOption = None,
        as_json: JsonOption = False,
    ) -> None:
        """Request an export of a saved dataset (submitted to the stewards)."""
        from medlake.export.catalog import DatasetCatalog
        from medlake.export.workflow import ExportWorkflow, summary
        from medlake.store import session_scope

        settings = settings_for(data_dir)
        _store(settings)
        project, name, version = _split_ref(ref)
        saved = DatasetCatalog(settings.data_dir).load(project, name, version)
        with session_scope(settings) as session:
            req = ExportWorkflow(session, settings).request(
                user,
                saved,
                purpose=purpose,
                fields=[f.strip() for f in fields.split(",") if f.strip()],
                dua_version=dua,
                accept_dua=accept_dua,
                formats=fmt or ["parquet", "csv"],
            )
            out = summary(req)
        if as_json:
            print_json(out)
        else:
            typer.echo(f"export request {out['id']} submitted ({project}/{name}@{saved.spec.version})")

    def _decide(request_id: int, user: str, comment: str, data_dir: Path | None, approve: bool) -> None:
        from medlake.export.workflow import ExportWorkflow
        from medlake.store import session_scope

        settings = settings_for(data_dir)
        _store(settings)
        with session_scope(settings) as session:
            wf = ExportWorkflow(session, settings)
            req = wf.approve(request_id, user, comment) if approve else wf.reject(request_id, user, comment)
            state = req.state
        typer.echo(f"export request {request_id} {state} by {user}")

    @export_app.command("approve")
    def export_approve(
        request_id: int,
        user: UserOption,
        comment: Annotated[str, typer.Option(help="steward's comment")] = "",
        data_dir: DataDirOption = None,
    ) -> None:
        """Approve a submitted request (a steward other than the requester)."""
        _decide(request_id, user, comment, data_dir, True)

    @export_app.command("reject")
    def export_reject(
        request_id: int,
        user: UserOption,
        comment: Annotated[str, typer.Option(help="why (required)")] = "",
        data_dir: DataDirOption = None,
    ) -> None:
        """Reject a submitted request, saying why."""
        _decide(request_id, user, comment, data_dir, False)

    @export_app.command("build")
    def export_build(
        request_id: int, user: UserOption, data_dir: DataDirOption = None, as_json: JsonOption = False
    ) -> None:
        """Build, de-identify, package and scan an approved request; released only if the scan is clean."""
        from medlake.errors import ReleaseBlocked
        from medlake.export.workflow import ExportWorkflow
        from medlake.store import session_scope

        settings = settings_for(data_dir)
        _store(settings)
        err = Console(stderr=True)
        with session_scope(settings) as session:
            try:
                info = ExportWorkflow(session, settings).build(
                    request_id, user, progress=lambda m: err.print(f"[dim]{m}…[/]", highlight=False)
                )
            except ReleaseBlocked as exc:
                print_json(exc.findings)
                raise
        out = {
            "request": request_id,
            "path": str(info.path),
            "rows": info.rows,
            "files": info.files,
            "manifest_sha256": info.manifest_sha256,
            "scan": {"clean": info.scan.clean, "files_scanned": info.scan.files_scanned},
        }
        if as_json:
            print_json(out)
        else:
            typer.echo(f"export request {request_id} built: {info.files} files, rows {info.rows}, scan clean")

    @export_app.command("scan")
    def export_scan(
        request_id: int,
        user: UserOption,
        data_dir: DataDirOption = None,
    ) -> None:
        """Re-run the release scan on a built package with its cohort's registry identities (stewards)."""
        from medlake.export.builder import build_from_lake
        from medlake.export.catalog import parse_spec
        from medlake.export.workflow import ExportWorkflow, has_permission
        from medlake.privacy.release_scan import ReleaseScanner
        from medlake.store import session_scope

        settings = settings_for(data_dir)
        _store(settings)
        with session_scope(settings) as session:
            wf = ExportWorkflow(session, settings)
            req = wf.get(request_id)
            actor = wf.actor(user)
            if user != req.requester and not has_permission(actor.role, "export.approve"):
                raise wf.refuse(req, user, "scan", "only the requester or a steward scans a package")
            if not req.package_path or not Path(req.package_path).exists():
                raise InputNotFound(f"export request {request_id} has no package on disk (state {req.state})")
            spec, path = parse_spec(req.spec_json), Path(req.package_path)
        built = build_from_lake(spec, settings.data_dir)
        result = ReleaseScanner(built.known_identifiers()).scan_dir(path)
        print_json(result.as_dict())
        if not result.clean:
            raise typer.Exit(1)

    @export_app.command("show")
    def export_show(
        request_id: int,
        user: UserOption,
        rows: Annotated[int, typer.Option(help="preview rows per table (0: no preview)")] = 10,
        data_dir: DataDirOption = None,
    ) -> None:
        """Show a request, its history and, before the build, exactly what would leave (requester or steward)."""
        from medlake import audit
        from medlake.export.catalog import parse_spec
        from medlake.export.pipeline import preview_release
        from medlake.export.workflow import ExportWorkflow, has_permission, summary
        from medlake.store import session_scope

        settings = settings_for(data_dir)
        _store(settings)
        with session_scope(settings) as session:
            wf = ExportWorkflow(session, settings)
            req = wf.get(request_id)
            if user != req.requester and not has_permission(wf.actor(user).role, "export.approve"):
                raise wf.refuse(req, user, "show", "only the requester or a steward sees a request")
            out: dict[str, object] = summary(req)
            out["events"] = [
                {
                    "at": e.at.isoformat(),
                    "actor": e.actor,
                    "from": e.from_state,
                    "to": e.to_state,
                    "comment": e.comment,
                }
                for e in req.events
            ]
            spec_json, fields, state = req.spec_json, json.loads(req.fields_json), req.state
            if rows and state in ("submitted", "approved"):
                audit.append(session, user, "export.preview", f"export_request:{req.id}", {"rows": rows})
        if rows and state in ("submitted", "approved"):
            out["preview"] = preview_release(
                parse_spec(spec_json), settings.data_dir, fields=fields, rows=rows
            )
        print_json(out)

    @export_app.command("download")
    def export_download(
        request_id: int,
        user: UserOption,
        out: Annotated[Path, typer.Option("--out", help="directory to write the package zip to")] = Path("."),
        data_dir: DataDirOption = None,
    ) -> None:
        """Download a built package (its requester only, before it expires)."""
        from medlake.export.workflow import ExportWorkflow
        from medlake.store import session_scope

        settings = settings_for(data_dir)
        _store(settings)
        with session_scope(settings) as session:
            target = ExportWorkflow(session, settings).download(request_id, user, out)
        typer.echo(str(target))

    @export_app.command("list")
    def export_list(user: UserOption, data_dir: DataDirOption = None, as_json: JsonOption = False) -> None:
        """Requests visible to the user (a steward sees the queue, a researcher their own)."""
        from medlake.export.workflow import ExportWorkflow, summary
        from medlake.store import session_scope

        settings = settings_for(data_dir)
        _store(settings)
        with session_scope(settings) as session:
            rows = [summary(r) for r in ExportWorkflow(session, settings).visible_to(user)]
        if as_json:
            print_json(rows)
            return
        for r in rows:
            typer.echo(
                f"{r['id']:>4}  {r['state']:<10} {r['project']}/{r['dataset']}@{r['version']}  "
                f"by {r['requester']}  — {r['purpose']}"
            )

    @export_app.command("dua")
    def export_dua(version: Annotated[str, typer.Option(help="agreement version")] = "") -> None:
        """Print the data-use agreement a request must accept."""
        from medlake.export.workflow import CURRENT_DUA, dua_text

        typer.echo(dua_text(version or CURRENT_DUA))

    @export_app.command("expire")
    def export_expire(user: UserOption, data_dir: DataDirOption = None) -> None:
        """Expire packages past their download period (deletes them)."""
        from medlake.export.workflow import ExportWorkflow, has_permission
        from medlake.store import session_scope

        settings = settings_for(data_dir)
        _store(settings)
        with session_scope(settings) as session:
            wf = ExportWorkflow(session, settings)
            if not has_permission(wf.actor(user).role, "export.approve"):
                raise wf.refuse(None, user, "expire", "only stewards expire packages")
            ids = wf.expire_due(user)
        typer.echo(f"{len(ids)} package(s) expired" + (f": {', '.join(map(str, ids))}" if ids else ""))

    app.add_typer(dataset_app, name="dataset")
    app.add_typer(export_app, name="export")
