"""Lists of row dicts → Arrow tables in a lake table's schema, whatever keys each row has.

``pa.Table.from_pylist`` takes its columns from the first row only, so a key present only in later
rows would be dropped silently; connectors that build rows of varying shape go through here.
An unknown key is still an error (a typo would otherwise lose data).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import pyarrow as pa

from medlake.cdm.schema import arrow_schema
from medlake.errors import SchemaError


def to_table(name: str, rows: Iterable[dict[str, Any]]) -> pa.Table:
    schema = arrow_schema(name)
    rows = list(rows)
    if not rows:
        return schema.empty_table()
    unknown = {k for r in rows for k in r} - set(schema.names)
    if unknown:
        raise SchemaError(f"columns not in the {name} schema: {sorted(unknown)}")
    return pa.Table.from_pylist(rows, schema=schema)
