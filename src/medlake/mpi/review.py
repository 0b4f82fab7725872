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
from medlake.mpi.link import pair_id

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


def _find_pair(lake: Lake, pair: str) -> tuple[str, str, str, str] | None:
    con = lake.connect()
    try:
        found = con.execute(
            """SELECT src_system_l, src_person_id_l, src_system_r, src_person_id_r FROM (
                SELECT src_system_l, src_person_id_l, src_system_r, src_person_id_r FROM mpi_review WHERE pair_id = $p
                UNION ALL
                SELECT src_system_l, src_person_id_l, src_system_r, src_person_id_r FROM mpi_decision
                WHERE pair_id = $p) LIMIT 1""",
            {"p": pair},
        ).fetchall()
    finally:
        con.close()
    return tuple(found[0]) if found else None  # type: ignore[return-value]


def _known(lake: Lake, system: str, local_id: str) -> bool:
    con = lake.connect()
    try:
        rows = con.execute(
            "SELECT count(*) FROM source_person WHERE src_system = $s AND src_person_id = $i",
            {"s": system, "i": local_id},
        ).fetchall()
    finally:
        con.close()
    return bool(rows[0][0])


def parse_source_key(text: str) -> tuple[str, str]:
    """``LIS:L0001`` (or ``LIS|L0001``) → ("LIS", "L0001")."""
    for sep in (":", "|"):
        if sep in text:
            system, local_id = text.split(sep, 1)
            if system.strip() and local_id.strip():
                return system.strip().upper(), local_id.strip()
    raise ValidationFailed(f"not a source patient: {text!r}", hint="write SYSTEM:LOCAL_ID, e.g. LIS:L0001")


def decide(
    lake: Lake,
    pair: str | None = None,
    *,
    match: bool,
    left: tuple[str, str] | None = None,
    right: tuple[str, str] | None = None,
    decided_by: str = "",
    note: str = "",
    now: datetime | None = None,
) -> dict[str, Any]:
    """Record a decision on review pair ``pair``, or on any two source patients ``left``/``right``
    (e.g. to split an automatic link found wrong); a new decision on a pair replaces the old one."""
    if left is not None and right is not None:
        for system, local_id in (left, right):
            if not _known(lake, system, local_id):
                raise NotFound(f"no source patient {system}:{mask(local_id, keep=2)} in source_person")
        pair = pair_id(f"{left[0]}|{left[1]}", f"{right[0]}|{right[1]}")
        lo, hi = sorted([left, right])
        found: tuple[str, str, str, str] | None = (lo[0], lo[1], hi[0], hi[1])
    else:
        pair = (pair or "").strip().lower()
        if not pair or not all(c in "0123456789abcdef" for c in pair):
            raise ValidationFailed(
                f"not a pair id: {pair!r}", hint="pair ids are listed by `medlake mpi review`"
            )
        found = _find_pair(lake, pair)
    if not found:
        raise NotFound(f"no review pair {pair}", hint="`medlake mpi review` lists the open pairs")
    sys_l, id_l, sys_r, id_r = found
    if (sys_l, id_l) == (sys_r, id_r):
        raise ValidationFailed("a pair needs two different source patients")
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
    with lake.transaction() as tx:
        tx.write("mpi_decision", f"decision-{pair}", [row])
    return row
