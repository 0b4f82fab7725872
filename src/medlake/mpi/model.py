"""The Splink 5 (DuckDB) linkage model: comparisons, blocking rules, seeded training, scoring.

Comparisons (see ``prepare`` for the columns): name (exact Chinese, exact pinyin — homophone typos
such as 张伟/章伟 — and Jaro-Winkler on pinyin), sex, birth date (exact, the birth date embedded in
the other side's resident id, day and month swapped, one digit off, same year), resident id (exact,
one character off), phone (exact, one digit off) and address. Prior m/u values make the model usable
on a handful of records; with enough records u is re-estimated by seeded random sampling and m by
expectation maximisation, so two runs on the same data give the same model.

Blocking (which pairs are scored at all) keeps recall with four independent routes — same resident
id; same phone; same pinyin, birth year and birth month or day (or the two swapped); same birth
date and surname pinyin with a similar given name — and never scores two HIS ids against each other:
HIS ids are the anchors and are not merged by the index.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import duckdb
from splink import DuckDBAPI, Linker, SettingsCreator

_NOT_HIS_PAIR = "NOT (l.src_system = 'HIS' AND r.src_system = 'HIS')"

BLOCKING_RULES = [
    f"l.rid = r.rid AND {_NOT_HIS_PAIR}",
    f"l.phone = r.phone AND {_NOT_HIS_PAIR}",
    # same pinyin and birth year, and the month or the day agree (or are swapped)
    "l.name_py = r.name_py AND l.dob_year = r.dob_year AND (l.dob_month = r.dob_month OR l.dob_day = r.dob_day "
    f"OR l.dob_month = r.dob_day) AND {_NOT_HIS_PAIR}",
    # same birth date and surname, given name alike (a typo that is not a homophone)
    "l.dob = r.dob AND l.surname_py = r.surname_py AND jaro_winkler_similarity(l.name_py, r.name_py) >= 0.8 "
    f"AND {_NOT_HIS_PAIR}",
]

#: pairs that are almost surely one person (for the prior probability of a match)
_DETERMINISTIC_RULES = [
    "l.rid = r.rid",
    "l.name_py = r.name_py AND l.dob = r.dob AND l.phone = r.phone",
]
#: blocking rules for expectation maximisation (each leaves the other comparisons free to learn)
_EM_RULES = [
    "l.dob = r.dob",
    "l.surname_py = r.surname_py AND l.dob_year = r.dob_year AND l.sex = r.sex",
]


def _level(sql: str, label: str, m: float, u: float, **extra: Any) -> dict[str, Any]:
    return {"sql_condition": sql, "label_for_charts": label, "m_probability": m, "u_probability": u, **extra}


def _null(sql: str) -> dict[str, Any]:
    return {"sql_condition": sql, "label_for_charts": "null", "is_null_level": True}


def _else(m: float, u: float) -> dict[str, Any]:
    return _level("ELSE", "all other", m, u)


def comparisons() -> list[dict[str, Any]]:
    """The comparison definitions (Splink settings dicts) with prior m/u probabilities."""
    return [
        {
            "output_column_name": "name",
            "comparison_levels": [
                _null("name_py_l IS NULL OR name_py_r IS NULL"),
                _level("name_zh_l = name_zh_r", "exact name", 0.80, 0.002),
                _level("name_py_l = name_py_r", "exact pinyin (homophone)", 0.15, 0.002),
                _level(
                    "jaro_winkler_similarity(name_py_l, name_py_r) >= 0.92", "pinyin JW >= 0.92", 0.03, 0.01
                ),
                _level(
                    "jaro_winkler_similarity(name_py_l, name_py_r) >= 0.80", "pinyin JW >= 0.80", 0.01, 0.08
                ),
                _else(0.01, 0.906),
            ],
        },
        {
            "output_column_name": "sex",
            "comparison_levels": [
                _null("sex_l IS NULL OR sex_r IS NULL"),
                _level("sex_l = sex_r", "same sex", 0.99, 0.5),
                _else(0.01, 0.5),
            ],
        },
        {
            "output_column_name": "birth_date",
            "comparison_levels": [
                _null("dob_l IS NULL OR dob_r IS NULL"),
                _level("dob_l = dob_r", "exact", 0.90, 0.0001),
                _level(
                    "rid_dob_l = dob_r OR dob_l = rid_dob_r", "matches resident-id birth date", 0.02, 0.0001
                ),
                _level(
                    "dob_year_l = dob_year_r AND dob_month_l = dob_day_r AND dob_day_l = dob_month_r",
                    "day/month swapped",
                    0.04,
                    0.0001,
                ),
                _level("levenshtein(dob_str_l, dob_str_r) <= 1", "one digit off", 0.02, 0.002),
                _level("dob_year_l = dob_year_r", "same year", 0.01, 0.012),
                _else(0.01, 0.9858),
            ],
        },
        {
            "output_column_name": "resident_id",
            "comparison_levels": [
                _null("rid_l IS NULL OR rid_r IS NULL"),
                _level("rid_l = rid_r", "exact", 0.98, 0.00001),
                _level("levenshtein(rid_l, rid_r) <= 1", "one character off", 0.01, 0.00001),
                _else(0.01, 0.99998),
            ],
        },
        {
            "output_column_name": "phone",
            "comparison_levels": [
                _null("phone_l IS NULL OR phone_r IS NULL"),
                _level("phone_l = phone_r", "exact", 0.88, 0.00001),
                _level("levenshtein(phone_l, phone_r) <= 1", "one digit off", 0.08, 0.0001),
                _level("levenshtein(phone_l, phone_r) <= 2", "two digits off", 0.01, 0.001),
                _else(0.03, 0.99889),
            ],
        },
        {
            "output_column_name": "address",
            "comparison_levels": [
                _null("address_l IS NULL OR address_r IS NULL"),
                _level("address_l = address_r", "exact", 0.85, 0.001),
                _level("jaro_winkler_similarity(address_l, address_r) >= 0.9", "JW >= 0.9", 0.10, 0.02),
                _else(0.05, 0.979),
            ],
        },
    ]


def settings(prior_match_probability: float = 1e-4) -> SettingsCreator:
    return SettingsCreator(
        link_type="dedupe_only",
        unique_id_column_name="unique_id",
        comparisons=comparisons(),  # type: ignore[arg-type]
        blocking_rules_to_generate_predictions=BLOCKING_RULES,  # type: ignore[arg-type]
        probability_two_random_records_match=prior_match_probability,
        retain_matching_columns=False,
        retain_intermediate_calculation_columns=False,
        max_iterations=20,
    )


@dataclass(frozen=True)
class TrainingConfig:
    """How the model is fitted; ``min_records_for_em`` guards tiny inputs (priors are used instead)."""

    seed: int = 1
    u_max_pairs: float = 1e6
    em_max_pairs: float = 5e5
    min_records_for_em: int = 2000
    recall_of_deterministic_rules: float = 0.8


def build_linker(con: duckdb.DuckDBPyConnection, n_records: int) -> Linker:
    """A Linker over ``mpi_input`` in ``con``, with the prior model."""
    db_api = DuckDBAPI(connection=con)
    sdf = db_api.register("mpi_input", table_name="mpi_input_sdf")
    prior = min(0.5, 3.0 / max(n_records, 2))
    return Linker(sdf, settings(prior), log_level=None)


def train(linker: Linker, n_records: int, cfg: TrainingConfig) -> bool:
    """Fit the model in place (seeded); False when the input is too small and the priors are kept."""
    if n_records < cfg.min_records_for_em:
        return False
    splink_log = logging.getLogger("splink")
    level = splink_log.level
    splink_log.setLevel(logging.ERROR)
    try:
        linker.training.estimate_probability_two_random_records_match(
            _DETERMINISTIC_RULES,  # type: ignore[arg-type]
            recall=cfg.recall_of_deterministic_rules,
        )
        linker.training.estimate_u_using_random_sampling(
            max_pairs=cfg.u_max_pairs, seed=cfg.seed, min_count_per_level=None, num_chunks=1
        )
        for rule in _EM_RULES:
            linker.training.estimate_parameters_using_expectation_maximisation(
                rule, estimate_without_term_frequencies=True, max_pairs=cfg.em_max_pairs
            )
    finally:
        splink_log.setLevel(level)
    return True


def predict_pairs(linker: Linker, min_probability: float) -> str:
    """Score the blocked pairs; the name of the table (in the linker's DuckDB connection) holding those at or
    above ``min_probability`` with columns unique_id_l, unique_id_r, match_probability, match_weight."""
    df = linker.inference.predict(threshold_match_probability=min_probability)
    return str(df.physical_name)
