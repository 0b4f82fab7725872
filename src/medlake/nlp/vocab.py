"""Code tables for the NLP coder taken from the lake: ICD-10 concepts loaded by `medlake vocab load`."""

from __future__ import annotations

from medlake.cdm.lake import Lake


def lake_icd_rows(lake: Lake) -> list[tuple[str, str]]:
    """``(name, code)`` of the lake's ICD-10 condition concepts (any vocabulary id starting ICD10)."""
    con = lake.connect()
    try:
        rows = con.execute(
            "SELECT concept_name, concept_code FROM concept "
            "WHERE upper(vocabulary_id) LIKE 'ICD10%' AND concept_name IS NOT NULL AND concept_code IS NOT NULL"
        ).fetchall()
    finally:
        con.close()
    return [(str(n), str(c)) for n, c in rows]
