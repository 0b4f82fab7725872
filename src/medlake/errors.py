"""Every error medlake raises on purpose, with a stable code, a message and a hint.

The CLI prints ``error[CODE]: message`` and ``hint: ...`` and exits non-zero; the web maps
``http_status`` to the HTTP response. Codes never change meaning once released.
"""

from __future__ import annotations


class MedlakeError(Exception):
    """Base class: a stable ``code``, a human message and an optional hint."""

    code = "ML000"
    http_status = 500
    default_hint = ""

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint if hint is not None else self.default_hint

    def __str__(self) -> str:
        return f"[{self.code}] {self.message}"


class ConfigError(MedlakeError):
    code = "ML100"
    http_status = 500
    default_hint = (
        "Check the MEDLAKE_* environment variables (`medlake config` prints the effective settings)."
    )


class DataDirError(MedlakeError):
    code = "ML101"
    http_status = 500
    default_hint = "Pass --data-dir or set MEDLAKE_DATA_DIR to a writable directory."


class InputNotFound(MedlakeError):
    code = "ML200"
    http_status = 404
    default_hint = "Check the path."


class InputFormatError(MedlakeError):
    """A whole input is unusable (as opposed to single bad records, which are quarantined)."""

    code = "ML201"
    http_status = 422


class VocabularyError(MedlakeError):
    code = "ML202"
    http_status = 422
    default_hint = "A code table is CSV with a header; the first column is the code, the second the name."


class SchemaError(MedlakeError):
    code = "ML300"
    http_status = 500


class LakeLockedError(MedlakeError):
    code = "ML301"
    http_status = 409
    default_hint = "Another medlake process is writing to this data dir; wait for it to finish."


class StoreError(MedlakeError):
    code = "ML400"
    http_status = 500
    default_hint = "Run `medlake db upgrade` to bring the application database to the current schema."


class NotFound(MedlakeError):
    code = "ML404"
    http_status = 404


class AuthenticationFailed(MedlakeError):
    """Not logged in, wrong credentials, or a locked account."""

    code = "ML401"
    http_status = 401
    default_hint = "Log in again; after 5 failed attempts an account is locked for 15 minutes."


class PermissionDenied(MedlakeError):
    code = "ML403"
    http_status = 403


class ValidationFailed(MedlakeError):
    code = "ML422"
    http_status = 422


class LexiconError(MedlakeError):
    """A lexicon, rule or unit data file (built-in or a hospital's own) is malformed."""

    code = "ML510"
    http_status = 422
    default_hint = "Dictionary files are UTF-8 TSV: term<TAB>type[<TAB>code]; rule files follow their header."


class NlpModelError(MedlakeError):
    """A trained NLP model directory is missing, incomplete or from another version."""

    code = "ML511"
    http_status = 422
    default_hint = "Train one with `medlake nlp train --corpus FILE --out DIR`, or run without --model."


class DeidentificationError(MedlakeError):
    """An export's de-identification plan is incomplete or unsafe (a column without an action, ...)."""

    code = "ML600"
    http_status = 422
    default_hint = "Give every exported column an explicit action: keep, pseudonymise, shift_date, generalise, suppress or scrub."


class ReleaseBlocked(MedlakeError):
    """The final release scan found direct identifiers in a package; nothing was released."""

    code = "ML601"
    http_status = 409
    default_hint = "Review the findings, change the dataset's de-identification actions and build again."

    def __init__(
        self, message: str, *, hint: str | None = None, findings: dict[str, object] | None = None
    ) -> None:
        super().__init__(message, hint=hint)
        self.findings = findings or {}


class ExportStateError(MedlakeError):
    """An export request cannot make this transition from its current state."""

    code = "ML602"
    http_status = 409
    default_hint = "`medlake export list` shows each request's state."


class ExportExpired(MedlakeError):
    code = "ML603"
    http_status = 410
    default_hint = "The package's download period is over; submit a new request."
