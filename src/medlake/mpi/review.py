"""The review queue: uncertain pairs side by side, and reviewers' decisions on them.

``review_queue`` lists the pairs of the last ``mpi link`` run that nobody has decided yet, with
the compared identity fields partially masked unless the caller asks to see them in full (a data
engineer at the CLI may; logs and listings for others never do). ``decide`` stores a ``match`` or
``no-match`` in the lake table ``mpi_decision`` (one part per pair, so a new decision on the same
pair replaces the old one); every later ``mpi link`` run re-applies it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from medlake.cdm.lake import Lake
from medlake.errors import NotFound, ValidationFailed
from medlake.mpi.identity import mask

FIELDS = ("name", "sex", "birth_date", "resident_id", "phone", "address")

_QUEUE_SQL = """
WITH sp AS (
    SELECT * FROM source_person
    QUALIFY row_number() OVER (PARTITION BY src_system, src_person_id ORDER BY src_file DESC, src_record DESC) = 1
)
SELECT r.pair_id, r.match_probability, r.reason, r.created_at,
       r.src_system_l, r.src_person_id_l, l.name, l.sex, l.birth_date, l.resident_id, l.phone, l.address,
       r.src_system_r, r.src_person_id_r, s.name, s.sex, s.birth_date, s.resident_id, s.phone, s.address
FROM mpi_review r
LEFT JOIN sp l ON l.src_system = r.src_system_l AND l.src_person_id = r.src_person_id_l
LEFT JOIN sp s ON s.src_system = r.src_system_r AND s.src_person_id = r.src_person_id_r
WHERE r.pair_id NOT IN (SELECT pair_id FROM mpi_decision)
ORDER BY r.match_probability DESC, r.pair_id
LIMIT $limit
"""


def _masked(fieldname: str, value: Any) -> str:
    if value is None or value == "":
        return ""
    if fieldname in ("sex", "birth_date"):
        text = str(value)
        return text[:4] + "-**-**" if fieldname == "birth_date" else text
    if fieldname == "address":
        return mask(value, keep=6)
    return mask(value)


def review_queue(lake: Lake, *, limit: int = 100, reveal: bool = False) -> list[dict[str, Any]]:
    """Undecided review pairs, most probable first; identity fields masked unless ``reveal``."""
    con = lake.connect()
    try:
        rows = con.execute(_QUEUE_SQL, {"limit": int(limit)}).fetchall()
    finally:
        con.close()
    out = []
    for row in rows:
        pid, prob, reason, created = row[:4]
        sides = []
        for offset in (4, 12):
            side = dict(zip(FIELDS, row[offset + 2 : offset + 8], strict=True))
            sides.append(
                {
                    "src_system": row[offset],
                    "src_person_id": row[offset + 1] if reveal else mask(row[offset + 1], keep=2),
                    **{
                        k: (str(v) if v is not None else "") if reveal else _masked(k, v)
                        for k, v in side.items()
                    },
                }
            )
        out.append(
            {
                "pair_id": pid,
                "match_probability": round(float(prob), 4),
                "reason": reason,
                "created_at": created,
                "left": sides[0],
                "right": sides[1],
            }
        )
    return out


def decide(
    lake: Lake, pair: str, *, match: bool, decided_by: str = "", note: str = "", now: datetime | None = None
) -> dict[str, Any]:
    """Record a reviewer's decision on review pair ``pair`` (also re-deciding an earlier one)."""
    pair = pair.strip().lower()
    if not pair or not all(c in "0123456789abcdef" for c in pair):
        raise ValidationFailed(f"not a pair id: {pair!r}", hint="pair ids are listed by `medlake mpi review`")
    with lake.transaction() as tx:
        con = lake.connect()
        try:
            found = con.execute(
                """SELECT src_system_l, src_person_id_l, src_system_r, src_person_id_r FROM (
                    SELECT src_system_l, src_person_id_l, src_system_r, src_person_id_r FROM mpi_review
                    WHERE pair_id = $p
                    UNION ALL
                    SELECT src_system_l, src_person_id_l, src_system_r, src_person_id_r FROM mpi_decision
                    WHERE pair_id = $p) LIMIT 1""",
                {"p": pair},
            ).fetchall()
        finally:
            con.close()
        if not found:
            raise NotFound(f"no review pair {pair}", hint="`medlake mpi review` lists the open pairs")
        sys_l, id_l, sys_r, id_r = found[0]
        if match and sys_l == "HIS" and sys_r == "HIS":
            raise ValidationFailed(
                "two HIS patients cannot be merged by the index",
                hint="merge the duplicate registration in the HIS; the index then follows",
            )
        row = {
            "pair_id": pair,
            "src_system_l": sys_l,
            "src_person_id_l": id_l,
            "src_system_r": sys_r,
            "src_person_id_r": id_r,
            "decision": "match" if match else "no-match",
            "decided_by": decided_by,
            "decided_at": (now or datetime.now()).replace(microsecond=0),
            "note": note,
        }
        tx.write("mpi_decision", f"decision-{pair}", [row])
    return row
