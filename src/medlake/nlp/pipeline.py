"""The NLP pipeline: entities (dictionary + optional CRF), assertions, times, values and codes.

``Pipeline.annotate(text, doc_date)`` is the one entry point (the web note view and ``medlake nlp
run`` both use it). Without a model it is dictionary + rules only; with a CRF model the model's spans
come first and dictionary hits fill the gaps — except a hospital's own terms, which always win.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from medlake.nlp.coding import IcdCoder
from medlake.nlp.context import PRIORITY, ConText
from medlake.nlp.crf import CrfModel
from medlake.nlp.lexicon import build_lexicon
from medlake.nlp.matcher import DictMatcher
from medlake.nlp.textnorm import Pieces
from medlake.nlp.timex import find_times
from medlake.nlp.types import ANATOMY, DISEASE, LAB, OPERATION, Entity, Span, TimeExpr, Value
from medlake.nlp.values import LabTable, ValueFinder, bare_number

_SENTENCE_END = frozenset("。；;！!？?\n")
_CLAUSE_END = _SENTENCE_END | frozenset("，,")
_SITE_TERMS = ("转移", "结节", "占位", "肿块", "癌", "积液", "囊肿", "钙化")
_VALUE_GAP = 12
HISTORY_DAYS = 14
# an operation named after 行 (or quoted) and ending in 术: 行“单侧乳腺改良根治术”
_OPERATION_RE = re.compile(r"行[“\"]?(?P<op>[^，。；;,“”\"\s]{2,24}?术)(?=[后前中]|[^\u4e00-\u9fff]|$)")


@dataclass
class PipelineConfig:
    model_dir: Path | None = None
    code_table: Path | None = None
    hospital_dict: Path | None = None
    use_cmekg: bool = True
    crf_only: bool = False  # a combined model: its CRF part alone (the fast operating point)


class Pipeline:
    """Everything needed to annotate notes, built once and reused (also across forked workers)."""

    def __init__(
        self, config: PipelineConfig | None = None, *, icd_rows: list[tuple[str, str]] | None = None
    ) -> None:
        self.config = config or PipelineConfig()
        cfg = self.config
        self.lexicon = build_lexicon(
            use_cmekg=cfg.use_cmekg, code_table=cfg.code_table, hospital_dict=cfg.hospital_dict
        )
        self.matcher = DictMatcher(self.lexicon)
        self.model = CrfModel.load(cfg.model_dir) if cfg.model_dir else None
        self.context = ConText()
        self.values = ValueFinder()
        self.labs = LabTable()
        self.coder: IcdCoder | None = None
        if cfg.code_table:
            self.coder = IcdCoder.from_csv(cfg.code_table)
        elif icd_rows:
            self.coder = IcdCoder(icd_rows)

    @property
    def system(self) -> str:
        if self.model is None:
            return "medlake-nlp/dict"
        return "medlake-nlp/crf+bilstm+dict" if self._combined else "medlake-nlp/crf+dict"

    @property
    def _combined(self) -> bool:
        return self.model is not None and self.model.combined and not self.config.crf_only

    # -- entities -------------------------------------------------------------------------------
    def spans(self, text: str) -> list[tuple[Span, str, str]]:
        """``(span, source, dictionary code)`` of the entities of ``text``, no overlaps."""
        hits = self.matcher.spans(text)
        if self.model is None:
            return [(Span(h.start, h.end, h.type), "dict", h.code) for h in hits]
        chosen: list[tuple[Span, str, str]] = []
        taken = bytearray(len(text) + 1)

        def take(span: Span, source: str, code: str) -> None:
            taken[span.start : span.end] = b"\x01" * (span.end - span.start)
            chosen.append((span, source, code))

        for h in hits:
            if h.source == "hospital":
                take(Span(h.start, h.end, h.type), "dict", h.code)
        crf_part = self.model.combined and self.config.crf_only
        predict = self.model.predict_crf if crf_part else self.model.predict
        for s in predict(text):
            if not any(taken[s.start : s.end]):
                take(s, "crf", "")
        for h in hits:
            if not any(taken[h.start : h.end]):
                take(Span(h.start, h.end, h.type), "dict", h.code)
        chosen.sort(key=lambda c: c[0].start)
        return chosen

    def assert_spans(self, text: str, spans: Sequence[Span], doc_date: date | None = None) -> list[str]:
        """Assertions of given typed spans as ``annotate`` would give them (ConText, then dated history)."""
        times = find_times(text, doc_date)
        sentences, clauses = Pieces(text, _SENTENCE_END), Pieces(text, _CLAUSE_END)
        pairs = [(sp.start, sp.end) for sp in spans]
        out = []
        for sp, (assertion, _mods) in zip(spans, self.context.assert_spans(text, pairs), strict=True):
            s, e = sp.start, sp.end
            ent = Entity(s, e, text[s:e], sp.label, assertion=assertion)
            ent.time = _nearest_time(ent, times, sentences, clauses)
            out.append("historical" if _long_ago(ent, doc_date) else assertion)
        return out

    def predict_spans(self, text: str) -> list[Span]:
        return [s for s, _, _ in self.spans(text)]

    # -- full annotation ------------------------------------------------------------------------
    def annotate(self, text: str, doc_date: date | None = None) -> list[Entity]:
        found = self.spans(text)
        covered = bytearray(len(text) + 1)
        for s, _, _ in found:
            covered[s.start : s.end] = b"\x01" * (s.end - s.start)
        for a, b, _concept in self.labs.find(text):
            if not any(covered[a:b]):
                found.append((Span(a, b, LAB), "rule", ""))
                covered[a:b] = b"\x01" * (b - a)
        for m in _OPERATION_RE.finditer(text):
            a, b = m.span("op")
            inner = [f for f in found if f[0].start < b and f[0].end > a]
            if inner and inner[0][0].start == a and inner[0][0].end == b:
                continue  # the dictionary already has this very term (and maybe its code)
            if all(f[1] == "dict" and a <= f[0].start and f[0].end <= b for f in inner):
                found = [f for f in found if f not in inner]
                found.append((Span(a, b, OPERATION), "rule", ""))
                covered[a:b] = b"\x01" * (b - a)
        found.sort(key=lambda f: f[0].start)
        times = find_times(text, doc_date)
        time_mask = bytearray(len(text) + 1)
        for t in times:
            time_mask[t.start : t.end] = b"\x01" * (t.end - t.start)
        values = self.values.find(text, skip=time_mask)
        assertions = self.context.assert_spans(text, [(s.start, s.end) for s, _, _ in found])
        sentences = Pieces(text, _SENTENCE_END)
        clauses = Pieces(text, _CLAUSE_END)
        entities: list[Entity] = []
        for (span, source, dict_code), (assertion, mods) in zip(found, assertions, strict=True):
            ent = Entity(
                span.start, span.end, text[span.start : span.end], span.label, source, assertion, mods
            )
            ent.time = _nearest_time(ent, times, sentences, clauses)
            if _long_ago(ent, doc_date):
                ent.assertion = "historical"
                ent.modifiers = sorted({*ent.modifiers, "historical"}, key=PRIORITY.index)
            entities.append(ent)
            if dict_code:
                ent.code, ent.code_score = dict_code, 1.0
        self._attach_values(text, entities, values)
        self._code(entities, sentences)
        return entities

    def _attach_values(self, text: str, entities: list[Entity], values: Sequence[Value]) -> None:
        """Each value goes to the closest entity before it in its clause (lab tests take numbers,
        findings and sites take sizes); a lab test without a unit-bearing value takes a bare number."""
        starts = sorted(e.start for e in entities)
        for v in values:
            owner: Entity | None = None
            for ent in entities:
                if ent.end > v.start:
                    break
                owner = ent
            if owner is None or owner.value is not None:
                continue
            gap = text[owner.end : v.start]
            if len(gap) > _VALUE_GAP or any(c in _CLAUSE_END for c in gap):
                continue
            if any(owner.end <= s < v.start for s in starts):
                continue
            if (owner.type == LAB) == (v.kind != "dims") and owner.type in (LAB, DISEASE, ANATOMY):
                owner.value = v
        for ent in entities:
            if ent.value is None and ent.type == LAB:
                ent.value = bare_number(text, ent.end)

    def _code(self, entities: list[Entity], sentences: Pieces) -> None:
        last_site: Entity | None = None
        for ent in entities:
            if ent.type == ANATOMY:
                last_site = ent
            if ent.type == LAB:
                concept = self.labs.lookup(ent.text)
                if concept:
                    ent.code, ent.code_name, ent.code_score = concept.code, concept.name, 1.0
                    if (
                        ent.value is not None
                        and ent.value.ucum is None
                        and ent.value.kind == "number"
                        and concept.ucum
                    ):
                        ent.value.ucum = concept.ucum
            elif ent.type == DISEASE and self.coder is not None and not ent.code:
                query = ent.text
                if (
                    ent.text in _SITE_TERMS
                    and last_site is not None
                    and sentences.same(last_site.end, ent.start)
                ):
                    query = last_site.text.lstrip("双左右") + ent.text
                coding = self.coder.code(query) or (self.coder.code(ent.text) if query != ent.text else None)
                if coding is not None:
                    ent.code, ent.code_name, ent.code_score = coding.code, coding.name, coding.score
                    ent.alternatives = list(coding.alternatives)


def _long_ago(ent: Entity, doc_date: date | None) -> bool:
    """An operation dated well before the note (done in 2019, told in 2021) is history; a disease
    is not (a chronic disease stays a present condition)."""
    if (
        ent.assertion != "present"
        or ent.type != OPERATION
        or doc_date is None
        or ent.time is None
        or ent.time.date_to is None
    ):
        return False
    return ent.time.anchor == "absolute" and (doc_date - ent.time.date_to).days > HISTORY_DAYS


def _nearest_time(
    ent: Entity, times: Sequence[TimeExpr], sentences: Pieces, clauses: Pieces
) -> TimeExpr | None:
    """The closest time expression before the entity in its sentence (else right after it in its clause)."""
    best = None
    for t in times:
        if t.end <= ent.start:
            if sentences.same(t.end, ent.start):
                best = t
        elif t.start >= ent.end:
            if best is None and clauses.same(ent.end, t.start):
                return t
            break
    return best
