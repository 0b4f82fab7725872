"""Cohort search: typed definitions (medlake JSON and OHDSI Circe), SQL compiled with SQLGlot,
run on the lake's DuckDB, with attrition per inclusion rule and timing.

Public API: ``CohortDefinition`` / ``parse_definition`` (medlake format), ``parse_expression``
(Circe), ``compile_expression`` (SQL statements), ``run_expression`` (on a connection), and the
service functions ``load_file``, ``run_cohort``, ``characteristics``, ``patient_list``,
``save_definition``, ``list_cohorts``.
"""

from medlake.cohort.circe.model import CohortExpression, parse_expression
from medlake.cohort.compiler import CompiledCohort, compile_expression
from medlake.cohort.model import CohortDefinition, load_definition, parse_definition
from medlake.cohort.runner import CohortResult, run_expression
from medlake.cohort.service import (
    LoadedCohort,
    characteristics,
    list_cohorts,
    load_any,
    load_file,
    patient_list,
    run_cohort,
    save_definition,
)
from medlake.cohort.translate import to_expression

__all__ = [
    "CohortDefinition",
    "CohortExpression",
    "CohortResult",
    "CompiledCohort",
    "LoadedCohort",
    "characteristics",
    "compile_expression",
    "list_cohorts",
    "load_any",
    "load_definition",
    "load_file",
    "parse_definition",
    "parse_expression",
    "patient_list",
    "run_cohort",
    "run_expression",
    "save_definition",
    "to_expression",
]
