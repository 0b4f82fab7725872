"""Turn the lake's ``source_person`` rows into the normalised table the linkage model compares.

One row per source-system patient (``src_system``, ``src_person_id``): when a patient arrives in
several files, the most complete and most recent row wins. Columns: ``unique_id``
(``SYSTEM|local id``), the provisional ``person_id_for`` id, the Chinese name and its pinyin
(full and surname, see ``identity.name_pinyin``), sex as ``M``/``F``, birth date and its parts,
the resident id when its GB 11643 check digit is right and the birth date embedded in it, the
phone (digits, no country code) and the address without its province prefix.
"""

from __future__ import annotations

import duckdb
import pyarrow as pa

from medlake.cdm.ids import stable_id_sql
from medlake.mpi.identity import char_pinyin, name_pinyin

_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECKSUM = " + ".join(
    f"TRY_CAST(substr(s.resident_id, {i + 1}, 1) AS INTEGER) * {w}" for i, w in enumerate(_WEIGHTS)
)

_DEDUP_SQL = """
CREATE OR REPLACE TEMP TABLE mpi_src AS
SELECT * FROM (
    SELECT src_system, src_person_id, nullif(trim(name), '') AS name, sex, birth_date,
           upper(nullif(trim(resident_id), '')) AS resident_id, phone, address
    FROM source_person
    WHERE src_system IS NOT NULL AND src_person_id IS NOT NULL AND src_person_id <> ''
    QUALIFY row_number() OVER (
        PARTITION BY src_system, src_person_id
        ORDER BY (name IS NOT NULL)::INT + (birth_date IS NOT NULL)::INT + (nullif(resident_id, '') IS NOT NULL)::INT
                 + (nullif(phone, '') IS NOT NULL)::INT + (nullif(address, '') IS NOT NULL)::INT DESC,
                 src_file DESC NULLS LAST, src_record DESC NULLS LAST
    ) = 1
)
"""

_INPUT_SQL = f"""
CREATE OR REPLACE TEMP TABLE mpi_input AS
WITH base AS (
    SELECT s.*,
        CASE WHEN regexp_full_match(s.resident_id, '\\d{{17}}[\\dX]')
              AND substr('10X98765432', CAST(({_CHECKSUM}) % 11 AS INTEGER) + 1, 1) = substr(s.resident_id, 18, 1)
             THEN s.resident_id END AS rid,
        regexp_replace(coalesce(s.phone, ''), '[^0-9]', '', 'g') AS phone_digits
    FROM mpi_src s
),
prepared AS (
SELECT
    b.src_system || '|' || b.src_person_id AS unique_id,
    b.src_system,
    b.src_person_id,
    {stable_id_sql("person", "b.src_system || '|' || b.src_person_id")} AS provisional_id,
    CASE WHEN regexp_matches(b.name, '[\\x{{3400}}-\\x{{9fff}}]') THEN replace(b.name, ' ', '') END AS name_zh,
    py.name_py,
    py.surname_py,
    CASE WHEN upper(trim(b.sex)) IN ('1', 'M', 'MALE', '男') THEN 'M'
         WHEN upper(trim(b.sex)) IN ('2', 'F', 'FEMALE', '女') THEN 'F' END AS sex,
    coalesce(b.birth_date, try_strptime(substr(b.rid, 7, 8), '%Y%m%d')::DATE) AS dob,
    try_strptime(substr(b.rid, 7, 8), '%Y%m%d')::DATE AS rid_dob,
    b.rid,
    CASE WHEN length(b.phone_digits) = 13 AND b.phone_digits LIKE '86%' THEN substr(b.phone_digits, 3)
         WHEN length(b.phone_digits) >= 7 THEN b.phone_digits END AS phone,
    nullif(regexp_replace(regexp_replace(coalesce(b.address, ''), '\\s', '', 'g'),
                          '^[^省]{{2,8}}(省|自治区)', ''), '') AS address
FROM base b
LEFT JOIN mpi_pinyin py ON py.name = b.name
)
SELECT *, year(dob) AS dob_year, month(dob) AS dob_month, day(dob) AS dob_day, strftime(dob, '%Y%m%d') AS dob_str
FROM prepared
ORDER BY unique_id
"""


def _pinyin_table(con: duckdb.DuckDBPyConnection) -> pa.Table:
    names = [r[0] for r in con.execute("SELECT DISTINCT name FROM mpi_src WHERE name IS NOT NULL").fetchall()]
    chars = {ch for name in names for ch in name}
    table = char_pinyin(sorted(chars))
    full, surname = [], []
    for name in names:
        f, s = name_pinyin(name, table)
        full.append(f)
        surname.append(s)
    return pa.table(
        {"name": pa.array(names, pa.string()), "name_py": pa.array(full, pa.string()), "surname_py": surname}
    )


def prepare_input(con: duckdb.DuckDBPyConnection) -> int:
    """Build temp table ``mpi_input`` from the connection's ``source_person``; returns its row count."""
    con.execute(_DEDUP_SQL)
    pinyin = _pinyin_table(con)
    con.register("mpi_pinyin_arrow", pinyin)
    con.execute("CREATE OR REPLACE TEMP TABLE mpi_pinyin AS SELECT * FROM mpi_pinyin_arrow")
    con.unregister("mpi_pinyin_arrow")
    con.execute(_INPUT_SQL)
    return int(con.execute("SELECT count(*) FROM mpi_input").fetchall()[0][0])
