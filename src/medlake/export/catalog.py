"""Dataset specifications saved in a project, versioned: ``<data_dir>/projects/<project>/datasets/<name>/v<N>.json``.

Saving a spec whose content differs from the latest version creates the next version (written aside,
then renamed); saving the same content again returns the existing version. Old versions are never
changed: an export request points at one exact version.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

from pydantic import ValidationError

from medlake.errors import NotFound, ValidationFailed
from medlake.export.spec import DatasetSpec
from medlake.privacy.keys import check_project_code

_VERSION_RE = re.compile(r"^v(\d+)\.json$")


@dataclass(frozen=True)
class SavedSpec:
    spec: DatasetSpec
    path: Path

    @property
    def sha256(self) -> str:
        return spec_sha256(self.spec)


def spec_sha256(spec: DatasetSpec) -> str:
    body = spec.model_dump(mode="json", exclude={"version"})
    return hashlib.sha256(json.dumps(body, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


def parse_spec(text: str) -> DatasetSpec:
    try:
        return DatasetSpec.model_validate_json(text)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise ValidationFailed(
            f"invalid dataset specification: {where}: {first['msg']} ({exc.error_count()} error(s))"
        ) from exc


class DatasetCatalog:
    def __init__(self, data_dir: Path) -> None:
        self.root = Path(data_dir) / "projects"

    def _dir(self, project: str, name: str) -> Path:
        check_project_code(project)
        DatasetSpec.model_validate({"name": name, "project": project, "cohort": {"kind": "filter"}})
        return self.root / project / "datasets" / name

    def versions(self, project: str, name: str) -> list[int]:
        d = self._dir(project, name)
        if not d.exists():
            return []
        return sorted(int(m.group(1)) for p in d.iterdir() if (m := _VERSION_RE.match(p.name)))

    def save(self, spec: DatasetSpec) -> SavedSpec:
        versions = self.versions(spec.project, spec.name)
        if versions:
            latest = self.load(spec.project, spec.name, versions[-1])
            if latest.sha256 == spec_sha256(spec):
                return latest
        version = (versions[-1] + 1) if versions else 1
        spec = spec.model_copy(update={"version": version})
        d = self._dir(spec.project, spec.name)
        d.mkdir(parents=True, exist_ok=True)
        path = d / f"v{version}.json"
        tmp = d / f".v{version}.{os.getpid()}.tmp"
        tmp.write_text(spec.model_dump_json(indent=2) + "\n", encoding="utf-8")
        os.replace(tmp, path)
        return SavedSpec(spec, path)

    def load(self, project: str, name: str, version: int | None = None) -> SavedSpec:
        versions = self.versions(project, name)
        if not versions:
            raise NotFound(
                f"no dataset {name!r} in project {project!r}", hint="`medlake dataset list` shows them."
            )
        v = versions[-1] if version is None else version
        if v not in versions:
            raise NotFound(f"dataset {name!r} has no version {v} (versions: {versions})")
        path = self._dir(project, name) / f"v{v}.json"
        spec = parse_spec(path.read_text(encoding="utf-8"))
        if spec.version != v or spec.name != name or spec.project != project:
            raise ValidationFailed(f"{path} does not hold {project}/{name} v{v}")
        return SavedSpec(spec, path)

    def list(self, project: str | None = None) -> list[SavedSpec]:
        out: list[SavedSpec] = []
        if not self.root.exists():
            return out
        projects = [project] if project else sorted(p.name for p in self.root.iterdir() if p.is_dir())
        for proj in projects:
            base = self.root / proj / "datasets"
            if not base.exists():
                continue
            for d in sorted(p for p in base.iterdir() if p.is_dir()):
                out.append(self.load(proj, d.name))
        return out
