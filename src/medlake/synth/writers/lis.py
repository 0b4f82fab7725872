"""LIS exports: HL7 v2.5 ORU^R01 messages in weekly batch files (FHS/BHS ... BTS/FTS).

Each chunk's messages are grouped by week and appended to a spool file per week; at the end each
week's batch file is assembled with its header and trailer counts, so memory stays bounded and file counts stay in
the hundreds (one file per week with results) even for a million patients.
"""

from __future__ import annotations

import shutil
from datetime import date, datetime, timedelta
from pathlib import Path

from medlake.synth.model import Patient, SystemIdentity
from medlake.synth.vocab import Vocab

_ESCAPES = str.maketrans({"\\": "\\E\\", "|": "\\F\\", "^": "\\S\\", "&": "\\T\\", "~": "\\R\\"})
_CLASS = {"门诊": "O", "急诊": "E", "住院": "I"}
_SEX = {"1": "M", "2": "F"}
PANEL_CODES = {
    "血常规": "CBC", "肝功能": "LFT", "肾功能": "RFT", "血糖": "GLU", "糖化血红蛋白": "HBA1C",
    "血气分析": "BGA", "肿瘤标志物": "TM", "免疫组化": "IHC", "FISH": "FISH", "心功能": "BNP",
}  # fmt: skip


def escape(value: str) -> str:
    """HL7 v2 escaping of the delimiter characters inside a field value."""
    return value.translate(_ESCAPES)


_OBX_CACHE: dict[tuple[str, str], tuple[str, str]] = {}


def _obx_parts(vocab: Vocab, abbr: str, sex: str) -> tuple[str, str]:
    """The fixed parts of an OBX for a test: ``type|code^name^LOCAL`` and ``unit|range`` (escaped)."""
    key = (abbr, sex)
    parts = _OBX_CACHE.get(key)
    if parts is None:
        test = vocab.labs[abbr]
        if test.numeric:
            lo, hi = (test.low_f, test.high_f) if sex == "2" else (test.low_m, test.high_m)
            rng, vtype = f"{lo:g}-{hi:g}", "NM"
        else:
            rng, vtype = ("阴性" if abbr not in ("Ki-67", "HER2") else ""), "ST"
        parts = (f"{vtype}|{test.code}^{escape(test.name)}^LOCAL", f"{escape(test.unit)}|{escape(rng)}")
        _OBX_CACHE[key] = parts
    return parts


def _ts(t: datetime) -> str:
    return t.strftime("%Y%m%d%H%M%S")


def week_of(day: date) -> date:
    return day - timedelta(days=day.weekday())


def add_lis(
    vocab: Vocab, patient: Patient, ident: SystemIdentity, omit_visit: set[str], weeks: dict[str, list[str]]
) -> int:
    """One patient's ORU^R01 messages, appended to ``weeks`` (keyed by the Monday, yyyymmdd); returns results."""
    results = 0
    pid_seg = (
        f"PID|1||{ident.local_id}^^^LIS^PI||{escape(ident.name)}||{ident.birth:%Y%m%d}|{_SEX.get(ident.sex, 'U')}"
        f"|||||{ident.phone}||||||{ident.resident_id}"
    )
    for v in patient.visits:
        pv1 = f"PV1|1|{_CLASS[v.kind]}|{v.dept_code}^^^{escape(v.dept_name)}" + "|" * 16
        pv1 += "" if v.visit_no in omit_visit else v.visit_no
        for panel in v.labs:
            t = panel.collected
            ctl = f"M{panel.specimen_no[1:]}"
            code = PANEL_CODES[panel.panel]
            segs = [
                f"MSH|^~\\&|LIS|HOSPITAL|MEDLAKE|HOSPITAL|{_ts(t + timedelta(hours=2))}||ORU^R01^ORU_R01|{ctl}|P|2.5||||||UNICODE UTF-8",
                pid_seg,
                pv1,
                f"ORC|RE|{panel.specimen_no}P|{panel.specimen_no}",
                f"OBR|1|{panel.specimen_no}P|{panel.specimen_no}|{code}^{escape(panel.panel)}^LOCAL|||{_ts(t)}"
                f"|||||||||||||||{_ts(t + timedelta(hours=2))}||LAB|F",
            ]
            obs_time = _ts(t + timedelta(hours=1))
            for i, res in enumerate(panel.results, start=1):
                results += 1
                head, tail = _obx_parts(vocab, res.abbr, ident.sex)
                segs.append(f"OBX|{i}|{head}||{escape(res.value)}|{tail}|{res.flag}|||F|||{obs_time}")
            if panel.panel == "FISH":
                segs.append(
                    "NTE|1||" + escape("检测方法: FISH (双色探针 HER2^CEP17) | 判读依据: ASCO/CAP 2018")
                )
            wk = f"{week_of(t.date()):%Y%m%d}"
            weeks.setdefault(wk, []).append("\r".join(segs) + "\r")
    return results


class LisSpool:
    """Weekly spool files filled chunk by chunk, assembled into batch files at the end."""

    def __init__(self, out: Path) -> None:
        self.dir = out / "lis"
        self.spool = self.dir / ".spool"
        self.spool.mkdir(parents=True, exist_ok=True)
        self.counts: dict[str, int] = {}

    def append(self, weeks: dict[str, tuple[str, int]]) -> None:
        for wk in sorted(weeks):
            text, n = weeks[wk]
            with open(self.spool / f"{wk}.part", "a", encoding="utf-8", newline="") as f:
                f.write(text)
            self.counts[wk] = self.counts.get(wk, 0) + n

    def close(self) -> int:
        """Assemble each week's batch file; returns the number of files."""
        for wk in sorted(self.counts):
            n = self.counts[wk]
            monday = date(int(wk[:4]), int(wk[4:6]), int(wk[6:]))
            stamp = f"{monday + timedelta(days=6):%Y%m%d}235959"
            name = f"ORU_{wk}.hl7"
            with open(self.dir / name, "w", encoding="utf-8", newline="") as out:
                out.write(f"FHS|^~\\&|LIS|HOSPITAL|MEDLAKE|HOSPITAL|{stamp}||{name}\r")
                out.write(f"BHS|^~\\&|LIS|HOSPITAL|MEDLAKE|HOSPITAL|{stamp}\r")
                with open(self.spool / f"{wk}.part", encoding="utf-8", newline="") as src:
                    shutil.copyfileobj(src, out, 1 << 20)
                out.write(f"BTS|{n}\rFTS|1\r")
        shutil.rmtree(self.spool)
        return len(self.counts)
