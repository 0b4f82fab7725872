"""Per-project pseudonymisation keys, kept apart from every export, and what is derived from them.

A project's key is 32 random bytes in ``<data_dir>/keys/<project>.key`` (directory 0700, file
0600), created on first use. Pseudonyms are keyed HMAC-SHA256 of the source value; a patient's date
offset is derived from the same key, so it is consistent within a patient and across exports of
the project, and cannot be recomputed without the key.
"""

from __future__ import annotations

import hmac
import os
import re
import secrets
import stat
from pathlib import Path

from medlake.errors import ConfigError, ValidationFailed

_PROJECT_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_\-]{0,63}$")


def check_project_code(project: str) -> str:
    if not _PROJECT_RE.match(project):
        raise ValidationFailed(
            f"invalid project code {project!r}", hint="Use letters, digits, '-' and '_' (at most 64)."
        )
    return project


class ProjectKey:
    """The secret of one project. ``pseudonym`` and ``shift_days`` are the only things derived from it."""

    def __init__(self, secret: bytes, *, project: str = "") -> None:
        if len(secret) < 16:
            raise ConfigError("a pseudonymisation key must have at least 16 bytes")
        self._secret = secret
        self.project = project

    @classmethod
    def load_or_create(cls, data_dir: Path, project: str) -> ProjectKey:
        check_project_code(project)
        keys_dir = Path(data_dir) / "keys"
        keys_dir.mkdir(parents=True, exist_ok=True)
        os.chmod(keys_dir, 0o700)
        path = keys_dir / f"{project}.key"
        if not path.exists():
            tmp = keys_dir / f".{project}.{os.getpid()}.tmp"
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            try:
                os.write(fd, secrets.token_hex(32).encode())
            finally:
                os.close(fd)
            try:
                os.link(tmp, path)  # never overwrite a key another process created meanwhile
            except FileExistsError:
                pass
            finally:
                tmp.unlink()
        mode = stat.S_IMODE(path.stat().st_mode)
        if mode & 0o077:
            raise ConfigError(
                f"the key file {path.name} is readable by others (mode {mode:o})",
                hint=f"chmod 600 {path}",
            )
        return cls(bytes.fromhex(path.read_text().strip()), project=project)

    def digest(self, purpose: str, value: str) -> bytes:
        return hmac.digest(self._secret, f"{purpose}|{value}".encode(), "sha256")

    def pseudonym(self, value: object, *, length: int = 16) -> str:
        """A stable keyed pseudonym of ``value``: ``p`` and hex digits.

        The leading letter keeps any run of digits inside a pseudonym from reading as a phone or
        identity number to the release scan.
        """
        return "p" + self.digest("pseudonym", str(value)).hex()[:length]

    def shift_days(self, person: object, *, max_days: int = 30) -> int:
        """A non-zero offset in [-max_days, max_days], the same for every date of one person."""
        n = int.from_bytes(self.digest("dateshift", str(person))[:8], "big")
        offset = n % (2 * max_days) - max_days
        return offset if offset < 0 else offset + 1
