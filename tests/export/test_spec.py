"""Dataset specifications: strict validation, JSON round trip, versions saved in a project."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from medlake.errors import NotFound, ValidationFailed
from medlake.export.catalog import DatasetCatalog, parse_spec
from medlake.export.columns import spec_columns
from medlake.export.spec import DatasetSpec
from tests.export.conftest import spec_dict


def test_round_trip_and_columns() -> None:
    spec = DatasetSpec.model_validate(spec_dict())
    again = parse_spec(spec.model_dump_json())
    assert again == spec
    cols = [(c.table, c.name, c.kind) for c in spec_columns(spec)]
    assert ("patients", "hba1c_first", "number") in cols
    assert ("patients", "hba1c_count", "count") in cols
    assert ("notes", "note_text", "text") in cols
    assert cols[0] == ("patients", "person_id", "person_key")


@pytest.mark.parametrize(
    "change",
    [
        {"variables": [{"type": "demographic", "name": "Age", "field": "age"}]},
        {"variables": [{"type": "demographic", "name": "person_id", "field": "age"}]},
        {"variables": [{"type": "lab", "name": "x"}]},
        {
            "variables": [
                {"type": "lab", "name": "x", "codes": ["A"], "window": {"start_days": 5, "end_days": 0}}
            ]
        },
        {"variables": [{"type": "demographic", "name": "a", "field": "age", "colour": 1}]},
        {
            "variables": [
                {"type": "demographic", "name": "a", "field": "age"},
                {"type": "demographic", "name": "a", "field": "sex"},
            ]
        },
        {"index": {"kind": "cohort_start"}},
        {"index": {"kind": "first_condition"}},
        {"cohort": {"kind": "persons", "person_ids": []}},
        {"name": "../x"},
    ],
)
def test_invalid_specs_refused(change: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        DatasetSpec.model_validate(spec_dict(**change))


def test_parse_error_is_one_clear_line() -> None:
    with pytest.raises(ValidationFailed, match="variables"):
        parse_spec(
            '{"name": "x", "project": "p", "cohort": {"kind": "filter"}, "variables": [{"type": "nope"}]}'
        )


def test_catalog_versions(tmp_path: Path) -> None:
    cat = DatasetCatalog(tmp_path)
    spec = DatasetSpec.model_validate(spec_dict())
    v1 = cat.save(spec)
    assert v1.spec.version == 1 and v1.path.name == "v1.json"
    assert cat.save(spec).spec.version == 1  # same content: same version
    changed = spec.model_copy(update={"description": "with notes"})
    assert cat.save(changed).spec.version == 2
    assert cat.load("p1", "dm").spec.version == 2
    assert cat.load("p1", "dm", 1).spec.description == ""
    assert [s.spec.name for s in cat.list()] == ["dm"]
    with pytest.raises(NotFound):
        cat.load("p1", "dm", 7)
    with pytest.raises(NotFound):
        cat.load("p1", "other")
