"""The CDS Hooks 2.0 engine: published models as services, requests scored into cards.

``CdsEngine`` keeps every published model, its feature spec and a slice of the lake in memory
(``LakeSlice``: one DuckDB connection plus every cohort person's features precomputed), reloaded
when the registry or the lake changes (a cheap stat, refreshed in the background by the service).
A call reads the prefetch first and takes from the lake, by person_id, only the features the
prefetch cannot give. ``try_call`` answers without waiting when no lake query is needed (the HTTP
router then stays on the event loop). Requests are validated strictly; a bad one raises
``BadRequest`` with a reason. Every card goes to the store and the audit log (``CdsStore``).
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from collections.abc import Sequence
from datetime import datetime
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from medlake.cdm.lake import Lake
from medlake.cdss.fhir import features_from_prefetch, index_time, read_prefetch
from medlake.cdss.lakecache import LakeSlice
from medlake.cdss.store import CardRecord, CdsStore, utcnow
from medlake.errors import MedlakeError
from medlake.models.extract import extract_person
from medlake.models.registry import Registry
from medlake.models.runtime import LoadedModel, load_model

log = logging.getLogger(__name__)
INDICATOR = {"low": "info", "medium": "warning", "high": "critical"}
FEEDBACK_OUTCOMES = {"accepted", "overridden"}


class _WouldWait(Exception):
    """Inside ``CdsEngine.try_call``: answering needs a lake query, a busy lock or a reload."""


class BadRequest(MedlakeError):
    code = "ML440"
    http_status = 400


def override_reasons() -> dict[str, Any]:
    text = resources.files("medlake.cdss").joinpath("override_reasons.json").read_text(encoding="utf-8")
    data: dict[str, Any] = json.loads(text)
    if set(data) != {"system", "reasons"} or any(set(r) != {"code", "display"} for r in data["reasons"]):
        raise ValueError("override_reasons.json: expected keys system, reasons[code, display]")
    return data


class CdsEngine:
    def __init__(self, data_dir: Path, store: CdsStore, *, refresh_seconds: float = 5.0) -> None:
        self.data_dir = Path(data_dir)
        self.registry = Registry(self.data_dir)
        self.store = store
        self.refresh_seconds = refresh_seconds
        self.reasons = override_reasons()
        self._models: dict[str, LoadedModel] = {}
        self._checked = 0.0
        self._state: tuple[Any, ...] | None = None
        self._lock = threading.Lock()
        self._slice: LakeSlice | None = None
        self._build_lock = threading.Lock()

    # -- models -------------------------------------------------------------------------------------
    def models(self, *, wait: bool = True) -> dict[str, LoadedModel]:
        if not self._checked or time.monotonic() - self._checked >= self.refresh_seconds:
            if not wait:
                raise _WouldWait
            self.refresh()
        return self._models

    def refresh(self) -> None:
        """Reload the published models if the registry changed (checked by a stat of the manifests).

        The service app calls this every second in the background, so a request rarely pays it.
        """
        with self._lock:
            state = self.registry.state()
            if state != self._state:
                published = {m["task"]: m for m in self.registry.published()}
                models = {}
                for task, m in published.items():
                    cur = self._models.get(task)
                    if cur is not None and cur.manifest["version"] == m["version"]:
                        models[task] = cur
                        continue
                    try:
                        models[task] = load_model(self.registry, task, m["version"])
                    except MedlakeError as exc:  # a broken artifact takes down its service, not the others
                        log.warning("CDS service %s v%s not loaded: %s", task, m["version"], exc)
                self._models = models
                self._state = state
            self._checked = time.monotonic()

    def warm(self) -> None:
        """Load the models and build the lake slice now, off the request path (start-up, refresh loop)."""
        self.refresh()
        self._lake()

    def model(self, service_id: str, *, wait: bool = True) -> LoadedModel:
        from medlake.errors import NotFound

        models = self.models(wait=wait)
        model = models.get(service_id)
        if model is None:  # a task's second hook is served as "<task>--<hook>" (service ids are unique)
            task, _, hook = service_id.partition("--")
            found = models.get(task)
            model = found if found is not None and hook in found.spec.cds.hooks else None
        if model is None:
            raise NotFound(
                f"no CDS service {service_id!r}", hint="GET /cds-services lists the published models."
            )
        return model

    # -- discovery ---------------------------------------------------------------------------------
    def discovery(self) -> dict[str, Any]:
        services = []
        for task, lm in sorted(self.models().items()):
            kinds = {f.kind for f in lm.spec.features}
            prefetch = {"patient": "Patient/{{context.patientId}}"}
            if kinds & {"measurement", "variable"}:
                prefetch["observations"] = "Observation?patient={{context.patientId}}"
            if "condition" in kinds:
                prefetch["conditions"] = "Condition?patient={{context.patientId}}"
            if "procedure" in kinds or lm.spec.source.kind == "index_event":
                prefetch["procedures"] = "Procedure?patient={{context.patientId}}"
            if "drug" in kinds:
                prefetch["medications"] = "MedicationRequest?patient={{context.patientId}}"
            for n, hook in enumerate(lm.spec.cds.hooks):
                services.append(
                    {
                        "id": task if n == 0 else f"{task}--{hook}",
                        "hook": hook,
                        "title": lm.spec.cds.title or lm.spec.title or task,
                        "description": f"Risk of {lm.spec.title or task} ({lm.manifest['algorithm']} "
                        f"v{lm.manifest['version']}), with its main reasons.",
                        "prefetch": prefetch,
                        "usageRequirements": "Clinician decision support; not for automated decisions.",
                    }
                )
        return {"services": services}

    # -- the lake ----------------------------------------------------------------------------------
    def _lake(self, *, wait: bool = True) -> LakeSlice | None:
        """The current lake slice; rebuilt (then swapped in) when the lake catalog or the models change.

        While new lake data are loaded for the same models, calls are answered from the previous
        slice; when the models change, calls wait for the slice that can read their features.
        """
        lake = Lake(self.data_dir)
        if not lake.catalog_path.exists():
            return None
        models = self.models(wait=wait)
        key = (lake.catalog_path.stat().st_mtime_ns, tuple(sorted(lm.key for lm in models.values())))
        current = self._slice
        if current is not None and current.key == key:
            return current
        same_models = current is not None and current.key[1] == key[1]
        if not wait:
            if same_models:
                return current
            raise _WouldWait
        if same_models and not self._build_lock.acquire(blocking=False):
            return current  # new lake data being loaded (e.g. by the refresh loop): answer from the last
        if not same_models:
            self._build_lock.acquire()
        try:
            current = self._slice
            if current is None or current.key != key:
                # the previous slice is dropped, not closed: a call may still hold it
                current = self._slice = LakeSlice(lake, {lm.key: lm.spec for lm in models.values()}, key)
            return current
        finally:
            self._build_lock.release()

    # -- scoring -----------------------------------------------------------------------------------
    def call(
        self, service_id: str, body: Any, base_url: str = "", actor: str = "cds-client"
    ) -> dict[str, Any]:
        """Score one hook call into a card; ``actor`` (the caller) goes to the audit with the card."""
        return self._call(service_id, body, base_url, actor, wait=True)

    def try_call(
        self, service_id: str, body: Any, base_url: str = "", actor: str = "cds-client"
    ) -> dict[str, Any] | None:
        """``call`` if it can be answered at once, else None (then run ``call`` in a worker thread).

        At once means from the prefetch and the lake slice's precomputed rows, with no lake query,
        no lock held by another call and no model or slice to (re)load: the HTTP router answers
        these on the event loop, saving two thread hand-offs under the GIL per request.
        """
        try:
            return self._call(service_id, body, base_url, actor, wait=False)
        except _WouldWait:
            return None

    def _call(self, service_id: str, body: Any, base_url: str, actor: str, *, wait: bool) -> dict[str, Any]:
        lm = self.model(service_id, wait=wait)
        hook, patient_id, prefetch = _validate_call(body, lm.spec.cds.hooks)
        pre = read_prefetch(prefetch)
        index = index_time(lm.spec, pre)
        x = features_from_prefetch(lm.spec, pre, index) if index is not None else None
        person_id: int | None = None
        from_lake: list[str] = []
        if x is None or np.isnan(x).any():
            lake = self._lake(wait=wait)
            if lake is not None:
                if not lake.lock.acquire(blocking=wait):
                    raise _WouldWait
                try:
                    if not wait and not lake.knows(patient_id):
                        raise _WouldWait
                    person_id = lake.person_id(patient_id)
                    if person_id is not None:
                        cached = lake.at_latest_index(lm.key, person_id) if index is None else None
                        if cached is not None:
                            lake_x, index = cached
                        elif not wait:
                            raise _WouldWait
                        else:
                            if index is None:  # no index event in the lake either: score as of now
                                index = datetime.now().replace(microsecond=0)
                            lake_x, _ = extract_person(lake.con, lm.spec, person_id, at=index)
                finally:
                    lake.lock.release()
            if index is not None and person_id is not None:
                if x is None:
                    x = features_from_prefetch(lm.spec, pre, index)
                gaps = np.isnan(x) & ~np.isnan(lake_x)
                from_lake = [lm.spec.features[j].name for j in np.flatnonzero(gaps)]
                x[gaps] = lake_x[gaps]
        if x is None:
            x = features_from_prefetch(lm.spec, pre, datetime.now().replace(microsecond=0))
        if np.isnan(x).all():
            raise BadRequest(
                f"no data for patient {patient_id!r}: give a prefetch or a patient known to the lake"
            )
        risk, factors = lm.score(x)
        band = lm.band(risk)
        card = self._card(lm, service_id, risk, band, factors, from_lake, base_url)
        self.store.log_card(
            CardRecord(
                uuid=card["uuid"],
                service_id=service_id,
                task=lm.manifest["task"],
                version=int(lm.manifest["version"]),
                person_id=person_id,
                hook=hook,
                risk=risk,
                band=band,
                features=json.dumps([None if np.isnan(v) else float(v) for v in x]),
                created_at=utcnow(),
            ),
            actor=actor,
        )
        return {"cards": [card]}

    def _card(
        self,
        lm: LoadedModel,
        service_id: str,
        risk: float,
        band: str,
        factors: list[dict[str, Any]],
        from_lake: list[str],
        base_url: str,
    ) -> dict[str, Any]:
        title = lm.spec.cds.title or lm.spec.title or lm.spec.name
        observed = {
            b["band"]: b["observed_risk"]
            for b in lm.manifest["metrics"].get("test", {}).get("risk_bands", [])
        }
        lines = [f"Predicted risk **{risk:.0%}** ({band} risk band)."]
        if observed.get(band) is not None:
            lines[0] += f" Observed risk in this band when the model was validated: {observed[band]:.0%}."
        if factors:
            lines += ["", "Main contributing factors:"]
            for f in factors:
                arrow = "raises" if f["contribution"] > 0 else "lowers"
                value = "missing" if f["value"] is None else f"{f['value']:g}"
                lines.append(f"- {f['feature']} = {value} ({arrow} the risk)")
        if from_lake:
            lines += ["", f"Taken from the research data lake: {', '.join(from_lake)}."]
        return {
            "uuid": str(uuid.uuid4()),
            "summary": f"{title}: {risk:.0%} risk ({band})"[:140],
            "indicator": INDICATOR[band],
            "detail": "\n".join(lines),
            "source": {
                "label": f"medlake {lm.manifest['task']} v{lm.manifest['version']} ({lm.manifest['algorithm']})",
                "url": f"{base_url.rstrip('/')}/cds-services/{service_id}/model-card",
            },
            "overrideReasons": [{"system": self.reasons["system"], **r} for r in self.reasons["reasons"]],
        }

    # -- feedback ----------------------------------------------------------------------------------
    def feedback(self, service_id: str, body: Any) -> int:
        lm = self.model(service_id)
        if not isinstance(body, dict) or not isinstance(body.get("feedback"), list) or not body["feedback"]:
            raise BadRequest("feedback body must be {'feedback': [ ... ]} with at least one item")
        rows = []
        for i, item in enumerate(body["feedback"]):
            if not isinstance(item, dict):
                raise BadRequest(f"feedback[{i}] must be an object")
            card_id, outcome = item.get("card"), item.get("outcome")
            if not isinstance(card_id, str) or not card_id:
                raise BadRequest(f"feedback[{i}].card must be the uuid of a card")
            if outcome not in FEEDBACK_OUTCOMES:
                raise BadRequest(f"feedback[{i}].outcome must be 'accepted' or 'overridden'")
            reason = item.get("overrideReason") or {}
            if not isinstance(reason, dict):
                raise BadRequest(f"feedback[{i}].overrideReason must be an object")
            coding = reason.get("reason") or {}
            if outcome == "overridden" and coding and not isinstance(coding, dict):
                raise BadRequest(f"feedback[{i}].overrideReason.reason must be a Coding")
            ts = item.get("outcomeTimestamp")
            rows.append(
                {
                    "card_uuid": card_id,
                    "service_id": service_id,
                    "task": lm.manifest["task"],
                    "version": int(lm.manifest["version"]),
                    "outcome": outcome,
                    "override_code": str(coding.get("code", ""))[:64] if isinstance(coding, dict) else "",
                    "override_display": str(coding.get("display", ""))[:255]
                    if isinstance(coding, dict)
                    else "",
                    "comment": str(reason.get("userComment", ""))[:2000],
                    "outcome_at": _parse_ts(ts, i),
                }
            )
        for i, row in enumerate(rows):
            if self.store.card(row["card_uuid"]) is None:
                raise BadRequest(f"feedback[{i}].card {row['card_uuid']!r} is not a card this service issued")
        return self.store.add_feedback(rows)


def _parse_ts(ts: Any, i: int) -> datetime | None:
    if ts is None:
        return None
    from medlake.cdss.fhir import parse_time

    parsed = parse_time(ts)
    if parsed is None:
        raise BadRequest(f"feedback[{i}].outcomeTimestamp is not an ISO date-time")
    return parsed


def _validate_call(body: Any, hooks: Sequence[str]) -> tuple[str, str, dict[str, Any] | None]:
    if not isinstance(body, dict):
        raise BadRequest("the request body must be a JSON object")
    hook = body.get("hook")
    if not isinstance(hook, str) or not hook:
        raise BadRequest("'hook' is required")
    if hook not in hooks:
        raise BadRequest(f"this service does not answer the {hook!r} hook (it answers {', '.join(hooks)})")
    if not isinstance(body.get("hookInstance"), str) or not body["hookInstance"]:
        raise BadRequest("'hookInstance' is required")
    context = body.get("context")
    if not isinstance(context, dict):
        raise BadRequest("'context' must be an object")
    patient_id = context.get("patientId")
    if not isinstance(patient_id, str) or not patient_id:
        raise BadRequest("'context.patientId' is required")
    prefetch = body.get("prefetch")
    if prefetch is not None and not isinstance(prefetch, dict):
        raise BadRequest("'prefetch' must be an object")
    return hook, patient_id, prefetch
