"""Model commands: ``medlake model train|evaluate|list|validate|publish|retire|monitor|retrain|serve``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.status import Status
from rich.table import Table

from medlake.cli.common import DataDirOption, JsonOption, print_json, settings_for

UserOption = Annotated[
    str, typer.Option("--by", help="user name doing this (recorded in the registry and audit log)")
]


def register(app: typer.Typer) -> None:
    model = typer.Typer(help="Prediction models: train, evaluate, register, publish and serve as CDS Hooks.")
    model.command("train")(train_cmd)
    model.command("evaluate")(evaluate_cmd)
    model.command("list")(list_cmd)
    model.command("validate")(validate_cmd)
    model.command("publish")(publish_cmd)
    model.command("retire")(retire_cmd)
    model.command("monitor")(monitor_cmd)
    model.command("retrain")(retrain_cmd)
    model.command("serve")(serve_cmd)
    app.add_typer(model, name="model")


def _fmt(v: object) -> str:
    return f"{v:.3f}" if isinstance(v, float) else str(v)


def train_cmd(
    task_file: Annotated[
        Path, typer.Argument(help="model task JSON (see medlake.models.spec), or a shipped task's name")
    ],
    algorithm: Annotated[
        list[str] | None,
        typer.Option("--algorithm", "-a", help="algorithm(s) to train instead of the task's (repeatable)"),
    ] = None,
    by: UserOption = "researcher",
    data_dir: DataDirOption = None,
    json_out: JsonOption = False,
) -> None:
    """Train TASK_FILE on the lake; each algorithm becomes a draft version with its model card."""
    from medlake.cdm.lake import Lake
    from medlake.models.card import compare
    from medlake.models.extract import extract
    from medlake.models.registry import Registry
    from medlake.models.spec import TaskSpec
    from medlake.models.train import train

    settings = settings_for(data_dir)
    shipped = Path(__file__).resolve().parents[1] / "models" / "tasks" / f"{task_file.name}.json"
    if not task_file.exists() and task_file.suffix == "" and shipped.exists():
        task_file = shipped  # e.g. `medlake model train tapvc_reoperation`
    spec = TaskSpec.load(task_file)
    console = Console(stderr=True, quiet=json_out)
    con = Lake(settings.data_dir).connect()
    registry = Registry(settings.data_dir)
    with console.status(f"extracting {spec.name}"):
        fm = extract(con, spec)
    console.print(f"{spec.name}: {fm.n} patients, {int(fm.y.sum()) if fm.y is not None else 0} events")
    out = []
    for name in algorithm or [spec.algorithm.name]:
        task_spec = spec if name == spec.algorithm.name else spec.with_algorithm(name)
        with console.status(f"training {name}") as status:

            def progress(msg: str, st: Status = status) -> None:
                st.update(msg)

            m = train(con, task_spec, registry, trainer=by, fm=fm, progress=progress)
        out.append(m)
        t = m["metrics"]["test"]
        console.print(
            f"  {m['task']} v{m['version']} {name}: test AUROC {t['auroc']:.3f} ({t['auroc_ci'][0]:.3f}–{t['auroc_ci'][1]:.3f})"
        )
    if json_out:
        print_json(
            [
                {
                    k: m[k]
                    for k in ("task", "version", "algorithm", "stage", "snapshot_hash", "sizes", "metrics")
                }
                for m in out
            ]
        )
    else:
        typer.echo(compare(out))


def evaluate_cmd(
    task: Annotated[str, typer.Argument(help="task name")],
    version: Annotated[
        int | None, typer.Option("--version", "-v", help="version (default: all, compared)")
    ] = None,
    data_dir: DataDirOption = None,
    json_out: JsonOption = False,
) -> None:
    """Show a version's evaluation and model card, or compare every version of TASK."""
    from medlake.models.card import compare
    from medlake.models.registry import Registry

    registry = Registry(settings_for(data_dir).data_dir)
    if version is None:
        manifests = [registry.manifest(task, v) for v in registry.versions(task)]
        if json_out:
            print_json(
                [{k: m[k] for k in ("task", "version", "algorithm", "stage", "metrics")} for m in manifests]
            )
        else:
            typer.echo(compare(manifests))
        return
    m = registry.manifest(task, version)
    if json_out:
        print_json(
            {
                k: m[k]
                for k in ("task", "version", "algorithm", "stage", "metrics", "weights", "snapshot_hash")
            }
        )
    else:
        typer.echo(registry.read_artifact(task, version, "card_md").decode())


def list_cmd(
    stage: Annotated[str | None, typer.Option("--stage", help="only this stage")] = None,
    data_dir: DataDirOption = None,
    json_out: JsonOption = False,
) -> None:
    """List the registry: every task's versions with stage and test AUROC."""
    from medlake.models.registry import Registry

    rows = Registry(settings_for(data_dir).data_dir).entries(stage)
    if json_out:
        print_json(
            [
                {
                    k: m.get(k)
                    for k in (
                        "task",
                        "version",
                        "algorithm",
                        "stage",
                        "trainer",
                        "created_at",
                        "snapshot_hash",
                    )
                }
                | {"test_auroc": m["metrics"].get("test", {}).get("auroc")}
                for m in rows
            ]
        )
        return
    tab = Table("task", "version", "algorithm", "stage", "trainer", "created", "test AUROC")
    for m in rows:
        auc = m["metrics"].get("test", {}).get("auroc")
        tab.add_row(
            m["task"],
            f"v{m['version']}",
            m["algorithm"],
            m["stage"],
            m.get("trainer", ""),
            m["created_at"],
            _fmt(auc),
        )
    Console().print(tab)


def _transition(task: str, version: int, stage: str, by: str, data_dir: Path | None, note: str) -> None:
    from medlake.models.registry import Registry
    from medlake.models.stewards import StoreUsers, audit

    settings = settings_for(data_dir)
    registry = Registry(settings.data_dir)
    users = StoreUsers(settings) if stage == "published" else None
    m = registry.transition(task, version, stage, by=by, users=users, note=note)
    audit(settings, by, f"model.{stage}", f"{task}/v{version}", {"algorithm": m["algorithm"], "note": note})
    typer.echo(f"{task} v{version} is now {m['stage']}")


def validate_cmd(
    task: str, version: int, by: UserOption = "researcher", note: str = "", data_dir: DataDirOption = None
) -> None:
    """Mark a draft version as validated (its evaluation was reviewed)."""
    _transition(task, version, "validated", by, data_dir, note)


def publish_cmd(
    task: str, version: int, by: UserOption = "steward", note: str = "", data_dir: DataDirOption = None
) -> None:
    """Publish a validated version as a CDS service (a steward other than the trainer approves)."""
    _transition(task, version, "published", by, data_dir, note)


def retire_cmd(
    task: str, version: int, by: UserOption = "steward", note: str = "", data_dir: DataDirOption = None
) -> None:
    """Retire a version: it no longer answers CDS calls."""
    _transition(task, version, "retired", by, data_dir, note)


def monitor_cmd(
    task: str,
    version: Annotated[
        int | None, typer.Option("--version", "-v", help="default: the published version")
    ] = None,
    since: Annotated[str | None, typer.Option(help="ISO date; default: the publication date")] = None,
    data_dir: DataDirOption = None,
    json_out: JsonOption = False,
) -> None:
    """Use, acceptance, override reasons, performance since publication and input drift (PSI)."""
    from datetime import datetime

    from medlake.cdm.lake import Lake
    from medlake.cdss.store import CdsStore
    from medlake.models.monitor import monitor
    from medlake.models.registry import Registry
    from medlake.store import make_engine

    settings = settings_for(data_dir)
    registry = Registry(settings.data_dir)
    v = version if version is not None else registry.latest(task, "published")["version"]
    report = monitor(
        registry,
        CdsStore(make_engine(settings)),
        Lake(settings.data_dir).connect(),
        task,
        v,
        since=datetime.fromisoformat(since) if since else None,
    )
    print_json(report) if json_out else _print_monitor(report)


def _print_monitor(r: dict[str, object]) -> None:
    import json

    for key in ("use", "feedback", "performance", "drift_psi", "drift_alerts"):
        typer.echo(f"{key}: {json.dumps(r[key], ensure_ascii=False, default=str)}")


def retrain_cmd(task: str, by: UserOption = "researcher", data_dir: DataDirOption = None) -> None:
    """Fit TASK again on the current lake; the result is a new draft version for review."""
    from medlake.cdm.lake import Lake
    from medlake.models.monitor import retrain
    from medlake.models.registry import Registry

    settings = settings_for(data_dir)
    m = retrain(Lake(settings.data_dir).connect(), Registry(settings.data_dir), task, trainer=by)
    t = m["metrics"]["test"]
    typer.echo(f"{task} v{m['version']} (draft, from v{m['retrained_from']}): test AUROC {t['auroc']:.3f}")


def serve_cmd(
    data_dir: DataDirOption = None,
    host: Annotated[str, typer.Option(help="interface to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port")] = 8001,
    workers: Annotated[int, typer.Option(help="worker processes (each keeps its own models in memory)")] = 1,
) -> None:
    """Serve the published models as a CDS Hooks 2.0 service (GET /cds-services); applies store migrations first."""
    import os

    import uvicorn

    from medlake.cdss.app import create_app
    from medlake.store.migrate import upgrade

    settings = settings_for(data_dir)
    upgrade(settings)  # once, before the workers start: cards and their audit entries need the store
    if workers > 1:
        os.environ["MEDLAKE_DATA_DIR"] = str(settings.data_dir)  # the workers build their settings from it
        uvicorn.run(
            "medlake.cdss.app:app_from_env",
            factory=True,
            host=host,
            port=port,
            workers=workers,
            log_level="warning",
        )
    else:
        uvicorn.run(create_app(settings), host=host, port=port, log_level="warning")
