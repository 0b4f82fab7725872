"""The allow-list of de-identification actions: every exported column has one, or nothing leaves.

Actions (GB/T 37964-2019 techniques): ``keep``; ``pseudonymise`` (keyed HMAC-SHA256);
``shift_date`` (per-patient offset, optionally generalised after shifting); ``generalise``
(age bands, ages over 89 as 90+, dates to month or year, addresses to city or province);
``suppress`` (the column is dropped); ``scrub`` (free text through the PII scrubber).
Default actions per variable kind come from an action set (``action_sets/*.json``, parsed
strictly); an action set also names the actions a kind may never take (a name is never kept).
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from medlake.errors import DeidentificationError, VocabularyError

ActionName = Literal["keep", "pseudonymise", "shift_date", "generalise", "suppress", "scrub"]
Method = Literal["age_band", "age_top", "year", "month", "city", "province"]

ACTION_SETS_DIR = Path(__file__).resolve().parent / "action_sets"

_METHODS_BY_ACTION: dict[str, set[str | None]] = {
    "keep": {None},
    "pseudonymise": {None},
    "shift_date": {None, "month", "year"},
    "generalise": {"age_band", "age_top", "year", "month", "city", "province"},
    "suppress": {None},
    "scrub": {None},
}


class ColumnRule(BaseModel):
    """One column's action. ``quasi_identifier`` columns enter the k-anonymity check."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    action: ActionName
    method: Method | None = None
    band: int = Field(default=5, ge=1, le=50, description="width of an age band in years")
    quasi_identifier: bool = False

    @model_validator(mode="after")
    def _method_fits(self) -> ColumnRule:
        if self.method not in _METHODS_BY_ACTION[self.action]:
            allowed = sorted(m for m in _METHODS_BY_ACTION[self.action] if m) or ["none"]
            raise ValueError(
                f"action {self.action!r} takes method {' / '.join(allowed)}, not {self.method!r}"
            )
        return self

    def describe(self) -> str:
        if self.action == "generalise" and self.method == "age_band":
            return f"generalise (age bands of {self.band} years, 90+)"
        if self.method:
            return f"{self.action} ({self.method})"
        return self.action


class ActionSet(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    description: str = ""
    kinds: dict[str, ColumnRule]
    refused: dict[str, list[ActionName]] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _refused_kinds_known(self) -> ActionSet:
        unknown = set(self.refused) - set(self.kinds)
        if unknown:
            raise ValueError(f"refused actions for unknown kinds: {sorted(unknown)}")
        for kind, rule in self.kinds.items():
            if rule.action in self.refused.get(kind, []):
                raise ValueError(f"the default action of {kind!r} is one it refuses")
        return self


@lru_cache(maxsize=8)
def load_action_set(name: str = "gbt37964_default") -> ActionSet:
    path = ACTION_SETS_DIR / f"{name}.json"
    if not path.is_file() or "/" in name:
        known = sorted(p.stem for p in ACTION_SETS_DIR.glob("*.json"))
        raise VocabularyError(f"unknown action set {name!r}", hint=f"Known action sets: {', '.join(known)}.")
    try:
        return ActionSet.model_validate(json.loads(path.read_text(encoding="utf-8")))
    except (ValidationError, json.JSONDecodeError) as exc:
        raise VocabularyError(f"action set {name}: {exc}") from exc


def resolve_plan(
    columns: dict[str, str],
    overrides: dict[str, ColumnRule],
    action_set: ActionSet | None,
) -> dict[str, ColumnRule]:
    """The explicit action of every column (``columns`` maps column → kind).

    An override wins over the action set's default for the column's kind; a column with neither is
    refused, as is an action the kind may never take, or an override for a column that is not exported.
    """
    unknown = set(overrides) - set(columns)
    if unknown:
        raise DeidentificationError(f"actions given for columns that are not exported: {sorted(unknown)}")
    plan: dict[str, ColumnRule] = {}
    missing: list[str] = []
    for col, kind in columns.items():
        rule = overrides.get(col)
        if rule is None and action_set is not None:
            rule = action_set.kinds.get(kind)
        if rule is None:
            missing.append(col)
            continue
        if action_set is not None and rule.action in action_set.refused.get(kind, []):
            raise DeidentificationError(
                f"column {col!r} (a {kind}) may not be exported with action {rule.action!r}",
                hint=f"Allowed here: anything but {', '.join(action_set.refused[kind])}.",
            )
        plan[col] = rule
    if missing:
        raise DeidentificationError(f"no de-identification action for columns: {', '.join(missing)}")
    return plan
