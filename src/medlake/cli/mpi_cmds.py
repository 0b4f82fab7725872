"""Master patient index commands: ``mpi link``, ``mpi apply``, ``mpi review``, ``mpi decide``, ``mpi eval``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from medlake.cli.common import DataDirOption, JsonOption, print_json, settings_for


def register(app: typer.Typer) -> None:
    mpi = typer.Typer(
        help="Master patient index: link HIS, LIS, PACS, EMR and partner ids to one person each."
    )
    mpi.command("link")(link_cmd)
    mpi.command("apply")(apply_cmd)
    mpi.command("review")(review_cmd)
    mpi.command("decide")(decide_cmd)
    mpi.command("eval")(eval_cmd)
    app.add_typer(mpi, name="mpi")


def link_cmd(
    data_dir: DataDirOption = None,
    threshold: Annotated[
        float, typer.Option("--threshold", help="link pairs at or above this probability")
    ] = 0.9,
    review_threshold: Annotated[
        float, typer.Option("--review-threshold", help="queue pairs from this probability up to --threshold")
    ] = 0.5,
    seed: Annotated[int, typer.Option("--seed", help="seed of the u-probability sampling")] = 1,
    no_apply: Annotated[
        bool, typer.Option("--no-apply", help="only write person_link; do not remap")
    ] = False,
    json_out: JsonOption = False,
) -> None:
    """Link every source patient (source_person) and remap person ids across the lake."""
    from medlake.cdm.lake import Lake
    from medlake.mpi import LinkConfig, TrainingConfig, apply, link

    settings = settings_for(data_dir)
    lake = Lake(settings.data_dir)
    cfg = LinkConfig(
        threshold=threshold,
        review_threshold=review_threshold,
        training=TrainingConfig(seed=seed),
        threads=settings.workers or None,
    )
    console = Console(stderr=True, quiet=json_out)
    with console.status("linking source patients ...") as status:
        result = link(lake, cfg, progress=lambda phase: status.update(f"mpi link: {phase} ..."))
    out: dict[str, object] = {"link": result.as_dict()}
    if not no_apply:
        with console.status("remapping person ids in the lake ..."):
            out["apply"] = apply(lake).as_dict()
    if json_out:
        print_json(out)
        return
    c = Console()
    c.print(
        f"{result.records:,} source patients → {result.persons:,} persons; {result.pairs_scored:,} pairs scored, "
        f"{result.review_pairs:,} to review, {result.decisions_applied:,} decisions applied"
        + ("" if result.trained else " (prior model: too few records to train)")
    )
    if "apply" in out:
        _print_apply(c, out["apply"])  # type: ignore[arg-type]


def _print_apply(c: Console, applied: dict[str, object]) -> None:
    c.print(
        f"{applied['rows_remapped']:,} rows remapped in {applied['parts_rewritten']:,} parts, "
        f"{applied['person_rows_dropped']:,} duplicate person rows dropped, "
        f"{applied['ambiguous_ids']:,} ambiguous ids left unchanged"
    )


def apply_cmd(data_dir: DataDirOption = None, json_out: JsonOption = False) -> None:
    """Remap person ids of linked non-HIS rows to their person (idempotent)."""
    from medlake.cdm.lake import Lake
    from medlake.mpi import apply

    lake = Lake(settings_for(data_dir).data_dir)
    result = apply(lake).as_dict()
    if json_out:
        print_json(result)
    else:
        _print_apply(Console(), result)


def review_cmd(
    data_dir: DataDirOption = None,
    limit: Annotated[int, typer.Option("--limit", help="at most this many pairs")] = 50,
    show_identifiers: Annotated[
        bool,
        typer.Option("--show-identifiers", help="show names, ids and phones in full (data engineers only)"),
    ] = False,
    json_out: JsonOption = False,
) -> None:
    """List uncertain pairs waiting for a decision (identifiers partially masked)."""
    from medlake.cdm.lake import Lake
    from medlake.mpi import review_queue

    lake = Lake(settings_for(data_dir).data_dir)
    pairs = review_queue(lake, limit=limit, reveal=show_identifiers)
    if json_out:
        print_json(pairs)
        return
    c = Console()
    if not pairs:
        c.print("no pairs to review")
        return
    for p in pairs:
        tab = Table(
            title=f"pair {p['pair_id']}  p={p['match_probability']:.3f}  ({p['reason']})",
            title_justify="left",
        )
        tab.add_column("field")
        tab.add_column("left")
        tab.add_column("right")
        for key in (
            "src_system",
            "src_person_id",
            "name",
            "sex",
            "birth_date",
            "resident_id",
            "phone",
            "address",
        ):
            tab.add_row(key, str(p["left"][key]), str(p["right"][key]))
        c.print(tab)
    c.print("decide with: medlake mpi decide PAIR_ID --match | --no-match")


def decide_cmd(
    pair_id: Annotated[str | None, typer.Argument(help="pair id from `medlake mpi review`")] = None,
    match: Annotated[bool | None, typer.Option("--match/--no-match", help="same person, or not")] = None,
    left: Annotated[
        str | None, typer.Option("--left", help="instead of a pair id: one source patient, SYSTEM:LOCAL_ID")
    ] = None,
    right: Annotated[
        str | None, typer.Option("--right", help="... and the other one, e.g. LIS:L0001")
    ] = None,
    by: Annotated[str, typer.Option("--by", help="who decides (kept with the decision)")] = "",
    note: Annotated[str, typer.Option("--note", help="reason, kept with the decision")] = "",
    data_dir: DataDirOption = None,
    json_out: JsonOption = False,
) -> None:
    """Record a match / no-match decision on a review pair (or on --left/--right); applied by the next `mpi link`."""
    from medlake.cdm.lake import Lake
    from medlake.errors import ValidationFailed
    from medlake.mpi import decide
    from medlake.mpi.review import parse_source_key

    if match is None:
        raise ValidationFailed("say --match or --no-match")
    if (left is None) != (right is None) or (pair_id is None) == (left is None):
        raise ValidationFailed("give a PAIR_ID, or both --left and --right")
    lake = Lake(settings_for(data_dir).data_dir)
    row = decide(
        lake,
        pair_id,
        match=match,
        left=parse_source_key(left) if left else None,
        right=parse_source_key(right) if right else None,
        decided_by=by,
        note=note,
    )
    if json_out:
        print_json({"pair_id": row["pair_id"], "decision": row["decision"], "decided_at": row["decided_at"]})
    else:
        Console().print(
            f"pair {row['pair_id']}: {row['decision']} recorded; run `medlake mpi link` to apply it"
        )


def eval_cmd(
    truth: Annotated[Path, typer.Option("--truth", help="truth/identity.csv (person_key, system, local_id)")],
    data_dir: DataDirOption = None,
    json_out: JsonOption = False,
) -> None:
    """Pairwise precision, recall and F1 of person_link against a truth file."""
    from medlake.cdm.lake import Lake
    from medlake.mpi import evaluate

    lake = Lake(settings_for(data_dir).data_dir)
    result = evaluate(lake, truth).as_dict()
    if json_out:
        print_json(result)
    else:
        Console().print(
            f"precision {result['precision']:.4f}  recall {result['recall']:.4f}  F1 {result['f1']:.4f}  "
            f"({result['pairs']:,} predicted pairs, {result['true_pairs']:,} true pairs, {result['records']:,} records)"
        )
