"""Web platform commands: ``serve``, ``db upgrade``, ``user add``, ``project add``, ``member add``,
``audit verify`` and ``demo-accounts``."""

from __future__ import annotations

import os
import sys
from typing import Annotated

import typer

from medlake.cli.common import DataDirOption, JsonOption, print_json, settings_for
from medlake.errors import ValidationFailed


def register(app: typer.Typer) -> None:
    db_app = typer.Typer(help="the application store (users, projects, audit, ...)", no_args_is_help=True)
    user_app = typer.Typer(help="user accounts", no_args_is_help=True)
    project_app = typer.Typer(help="research projects", no_args_is_help=True)
    member_app = typer.Typer(help="research project members", no_args_is_help=True)
    audit_app = typer.Typer(help="the hash-chained audit log", no_args_is_help=True)

    @app.command("serve")
    def serve(
        data_dir: DataDirOption = None,
        host: Annotated[str, typer.Option(help="address to listen on")] = "127.0.0.1",
        port: Annotated[int, typer.Option(help="TCP port")] = 8000,
        workers: Annotated[int, typer.Option(help="uvicorn worker processes")] = 1,
    ) -> None:
        """Run the web application (applies store migrations first)."""
        import uvicorn

        from medlake.store.migrate import upgrade
        from medlake.web.app import create_app

        settings = settings_for(data_dir)
        typer.echo(f"medlake web on http://{host}:{port} (data dir {settings.data_dir})")
        if workers > 1:
            upgrade(settings)  # once, before the workers start
            os.environ["MEDLAKE_DATA_DIR"] = str(settings.data_dir.resolve())
            uvicorn.run(
                "medlake.web.app:app_from_env",
                factory=True,
                host=host,
                port=port,
                workers=workers,
                proxy_headers=True,
                log_level="warning",
            )
            return
        uvicorn.run(create_app(settings), host=host, port=port, proxy_headers=True, log_level="warning")

    @db_app.command("upgrade")
    def db_upgrade(data_dir: DataDirOption = None, revision: str = "heads") -> None:
        """Apply the store migrations up to REVISION (default: the newest)."""
        from medlake.store.migrate import upgrade

        current = upgrade(settings_for(data_dir), revision)
        typer.echo(f"application store at revision {current}")

    @user_app.command("add")
    def user_add(
        username: str,
        role: Annotated[str, typer.Option(help="admin, steward, researcher or clinician")],
        data_dir: DataDirOption = None,
        password_stdin: Annotated[
            bool, typer.Option("--password-stdin", help="read the password from stdin")
        ] = False,
        display_name: Annotated[str, typer.Option(help="name shown in the UI")] = "",
    ) -> None:
        """Create a user account (the first admin, for example)."""
        from medlake import audit
        from medlake.store import session_scope, upgrade
        from medlake.web.services.accounts import create_user

        if password_stdin:
            password = sys.stdin.readline().rstrip("\r\n")
        else:
            password = typer.prompt("password", hide_input=True, confirmation_prompt=True)
        if not password:
            raise ValidationFailed("empty password")
        settings = settings_for(data_dir)
        upgrade(settings)
        with session_scope(settings) as session:
            create_user(session, username, role, password, display_name=display_name)
            audit.append(session, "cli", "user.create", f"user:{username}", {"role": role})
        typer.echo(f"user {username} ({role}) created")

    @project_app.command("add")
    def project_add(
        code: str,
        title: Annotated[str, typer.Option(help="project title")] = "",
        description: Annotated[str, typer.Option(help="what the project studies")] = "",
        data_dir: DataDirOption = None,
    ) -> None:
        """Create a research project."""
        from medlake import audit
        from medlake.store import session_scope, upgrade
        from medlake.web.services.accounts import create_project

        settings = settings_for(data_dir)
        upgrade(settings)
        with session_scope(settings) as session:
            project = create_project(session, code, title or code, description=description, created_by="cli")
            audit.append(session, "cli", "project.create", f"project:{project.id}", {"code": code})
        typer.echo(f"project {code} created")

    @member_app.command("add")
    def member_add(
        project: str,
        username: str,
        project_role: Annotated[str, typer.Option("--project-role", help="owner or member")] = "member",
        data_dir: DataDirOption = None,
    ) -> None:
        """Add USERNAME to the research project PROJECT (its code)."""
        from medlake import audit
        from medlake.store import session_scope, upgrade
        from medlake.web.services.accounts import add_member, project_by_code

        settings = settings_for(data_dir)
        upgrade(settings)
        with session_scope(settings) as session:
            p = project_by_code(session, project)
            add_member(session, p, username, project_role=project_role)
            audit.append(session, "cli", "project.member_add", f"project:{p.id}", {"user": username})
        typer.echo(f"{username} is now {project_role} of {project}")

    @audit_app.command("verify")
    def audit_verify(data_dir: DataDirOption = None, json_out: JsonOption = False) -> None:
        """Recompute the audit hash chain; exit 1 and name the first broken seq if it was tampered with."""
        from medlake.audit import verify

        result = verify(settings_for(data_dir))
        if json_out:
            print_json(result.as_dict())
        elif result.ok:
            typer.echo(f"audit chain OK: {result.entries} entries, head checkpoint at {result.head_seq}")
        else:
            typer.echo(f"audit chain BROKEN at seq {result.broken_seq}: {result.reason}", err=True)
        if not result.ok:
            raise typer.Exit(1)

    @app.command("demo-accounts")
    def demo_accounts(
        data_dir: DataDirOption = None,
        password: Annotated[str | None, typer.Option(help="use this password for every demo account")] = None,
    ) -> None:
        """Create (or reset) demo users for each role and two demo projects; prints the passwords."""
        from medlake.web.services.demo import create_demo_accounts

        created = create_demo_accounts(settings_for(data_dir), password=password)
        for username, pw in created.items():
            typer.echo(f"{username}\t{pw}")

    app.add_typer(db_app, name="db")
    app.add_typer(user_app, name="user")
    app.add_typer(project_app, name="project")
    app.add_typer(member_app, name="member")
    app.add_typer(audit_app, name="audit")
