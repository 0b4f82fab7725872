"""The allow-list: every column has an explicit action; unsafe actions are refused."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from medlake.errors import DeidentificationError, VocabularyError
from medlake.privacy.actions import ActionSet, ColumnRule, load_action_set, resolve_plan


def test_action_set_fills_kinds_and_override_wins() -> None:
    aset = load_action_set()
    plan = resolve_plan(
        {"person_id": "person_key", "age": "age", "hba1c": "number"},
        {"hba1c": ColumnRule(action="suppress")},
        aset,
    )
    assert plan["person_id"].action == "pseudonymise"
    assert plan["age"].action == "generalise" and plan["age"].quasi_identifier
    assert plan["hba1c"].action == "suppress"


def test_column_without_action_refused() -> None:
    with pytest.raises(DeidentificationError, match="mystery"):
        resolve_plan({"mystery": "unknown_kind"}, {}, load_action_set())
    with pytest.raises(DeidentificationError, match="age"):
        resolve_plan({"age": "age"}, {}, None)


def test_unsafe_actions_refused() -> None:
    aset = load_action_set()
    with pytest.raises(DeidentificationError, match="may not be exported"):
        resolve_plan({"name": "name"}, {"name": ColumnRule(action="keep")}, aset)
    with pytest.raises(DeidentificationError, match="may not be exported"):
        resolve_plan({"note": "text"}, {"note": ColumnRule(action="keep")}, aset)
    with pytest.raises(DeidentificationError, match="not exported"):
        resolve_plan({"a": "code"}, {"b": ColumnRule(action="keep")}, aset)


def test_rule_and_action_set_are_strict() -> None:
    with pytest.raises(ValidationError):
        ColumnRule(action="keep", method="year")
    with pytest.raises(ValidationError):
        ColumnRule.model_validate({"action": "keep", "colour": "red"})
    with pytest.raises(ValidationError):
        ActionSet.model_validate(
            {"name": "x", "kinds": {"a": {"action": "keep"}}, "refused": {"a": ["keep"]}}
        )
    with pytest.raises(VocabularyError):
        load_action_set("no_such_set")
