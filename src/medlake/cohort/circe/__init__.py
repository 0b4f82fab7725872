"""OHDSI Circe (ATLAS) support: the cohort-expression model (also medlake's cohort IR) and the
circe-be conformance runner. Public API: ``parse_expression``, ``CohortExpression``."""

from medlake.cohort.circe.model import CohortExpression, parse_expression

__all__ = ["CohortExpression", "parse_expression"]
