"""Reading FHIR files: detection by content, bundles vs bulk NDJSON vs $export manifests, validation.

A file is one of: a Bundle (JSON object, ``resourceType: Bundle``; its entries are read with their
``fullUrl`` so ``urn:uuid:`` references resolve), bulk-data NDJSON (one resource per line; a
single-resource JSON file is read the same way), an ``$export`` manifest (``transactionTime`` +
``output``) or an export log (``exportId`` + ``eventId`` lines). Resources are validated with the
fhir.resources R4B model of their type (one cached class per type).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from medlake.errors import InputFormatError
from medlake.ingest.fhir_values import Json

_HEAD_RESOURCE = re.compile(rb'^\s*\{\s*"resourceType"\s*:\s*"([A-Za-z]+)"')
_ANY_RESOURCE = re.compile(rb'"resourceType"\s*:\s*"([A-Za-z]+)"')
_MANIFEST = (re.compile(rb'"transactionTime"\s*:'), re.compile(rb'"output"\s*:\s*\['))
_LOG = (re.compile(rb'"exportId"\s*:'), re.compile(rb'"eventId"\s*:'))


def sniff(head: bytes) -> str | None:
    """'bundle', 'ndjson', 'manifest', 'log' or None, from the first bytes of a file."""
    body = head.removeprefix(b"\xef\xbb\xbf").lstrip()
    if not body.startswith(b"{"):
        return None
    first_line = body.split(b"\n", 1)[0]
    m = _HEAD_RESOURCE.match(first_line)
    if m:
        return "bundle" if m.group(1) == b"Bundle" else "ndjson"
    if all(p.search(body) for p in _MANIFEST):
        return "manifest"
    if all(p.search(first_line) for p in _LOG):
        return "log"
    # resourceType not the first key: a pretty-printed bundle or resource
    m = _ANY_RESOURCE.search(body)
    if m and b"\n" in body and body.count(b"\n{") == 0:
        return "bundle" if m.group(1) == b"Bundle" else "ndjson"
    return None


def first_resource_type(head: bytes) -> str:
    """The resourceType of the first line when it opens with one (NDJSON, compact JSON), else ''."""
    m = _HEAD_RESOURCE.match(head.removeprefix(b"\xef\xbb\xbf").split(b"\n", 1)[0])
    return m.group(1).decode() if m else ""


@dataclass
class Item:
    """One resource read from a file, or a line that could not be read (``resource`` None)."""

    record: str  # "Type/id" or "line N"
    resource: Json | None
    raw: str
    error: str = ""
    full_url: str = ""


def read_items(path: Path, kind: str) -> tuple[list[Item], str]:
    """The resources of a bundle or NDJSON file, and the bundle type ('' for NDJSON)."""
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputFormatError(f"{path.name} is not UTF-8 (FHIR JSON must be): byte {exc.start}") from exc
    if kind == "bundle" or (kind == "ndjson" and not _is_ndjson(text)):
        try:
            doc = json.loads(text)
        except json.JSONDecodeError as exc:
            return [Item("<file>", None, text[:2000], f"invalid JSON: {exc.msg} at line {exc.lineno}")], ""
        if not isinstance(doc, dict):
            return [Item("<file>", None, text[:2000], "not a JSON object")], ""
        if doc.get("resourceType") == "Bundle":
            return list(_bundle_items(doc)), str(doc.get("type") or "")
        return [_item(doc, json.dumps(doc, ensure_ascii=False), "line 1")], ""
    items = []
    for n, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            res = json.loads(line)
        except json.JSONDecodeError as exc:
            items.append(Item(f"line {n}", None, line, f"invalid JSON: {exc.msg}"))
            continue
        items.append(_item(res, line, f"line {n}"))
    return items, ""


def _is_ndjson(text: str) -> bool:
    first = text.lstrip().split("\n", 1)[0].strip()
    return first.startswith("{") and first.endswith("}")


def _item(res: Any, raw: str, where: str, full_url: str = "") -> Item:
    if not isinstance(res, dict) or not isinstance(res.get("resourceType"), str):
        return Item(where, None, raw, "not a FHIR resource (no resourceType)")
    return Item(f"{res['resourceType']}/{res.get('id', '')}", res, raw, full_url=full_url)


def _bundle_items(doc: Json) -> Iterator[Item]:
    for n, entry in enumerate(doc.get("entry") or [], start=1):
        res = entry.get("resource") if isinstance(entry, dict) else None
        full_url = str(entry.get("fullUrl") or "") if isinstance(entry, dict) else ""
        if res is None:
            yield Item(f"entry {n}", None, json.dumps(entry)[:2000], "bundle entry without a resource")
            continue
        yield _item(res, "", f"entry {n}", full_url)


def manifest_outputs(path: Path) -> list[tuple[str, str]]:
    """(type, url) of each output file listed in an ``$export`` manifest."""
    try:
        doc = json.loads(path.read_bytes().decode("utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputFormatError(f"{path.name}: unreadable $export manifest: {exc}") from exc
    return [
        (str(o.get("type", "")), str(o.get("url", "")))
        for o in doc.get("output") or []
        if isinstance(o, dict)
    ]


@cache
def model_class(resource_type: str) -> Any:
    """The fhir.resources R4B model class of a resource type (None for an unknown type)."""
    from fhir.resources.R4B import get_fhir_model_class

    try:
        return get_fhir_model_class(resource_type)
    except (KeyError, ValueError, ImportError, AttributeError):
        return None


def validate(resource: Json) -> str | None:
    """None when the resource is valid R4(B); otherwise a short validation message."""
    cls = model_class(str(resource.get("resourceType")))
    if cls is None:
        return f"unknown resource type {resource.get('resourceType')!r}"
    try:
        cls.model_validate(resource)
    except ValidationError as exc:
        errors = exc.errors()
        first = errors[0] if errors else {"loc": (), "msg": str(exc)}
        loc = ".".join(str(p) for p in first.get("loc", ()))
        more = f" (+{len(errors) - 1} more)" if len(errors) > 1 else ""
        return f"invalid {resource.get('resourceType')}: {loc}: {first.get('msg')}{more}"
    except (ValueError, TypeError) as exc:
        return f"invalid {resource.get('resourceType')}: {exc}"
    return None
