"""Plotly figure specs (plain dicts, rendered in the browser by the vendored plotly.min.js)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

_LAYOUT: dict[str, Any] = {"margin": {"l": 60, "r": 20, "t": 40, "b": 60}, "height": 340}


def _layout(title: str, **extra: Any) -> dict[str, Any]:
    return {**_LAYOUT, "title": {"text": title}, **extra}


def bar(title: str, labels: list[str], values: list[int], *, horizontal: bool = False) -> dict[str, Any]:
    trace: dict[str, Any] = {"type": "bar"}
    if horizontal:
        trace.update(x=values[::-1], y=labels[::-1], orientation="h")
        layout = _layout(title, margin={"l": 220, "r": 20, "t": 40, "b": 40})
    else:
        trace.update(x=labels, y=values)
        layout = _layout(title)
    return {"data": [trace], "layout": layout}


def pyramid(title: str, rows: list[dict[str, Any]], t: Callable[..., str]) -> dict[str, Any]:
    bands = sorted({int(r["band"]) for r in rows})
    labels = [f"{b}-{b + 9}" if b < 90 else "90+" for b in bands]
    by = {(r["sex"], int(r["band"])): int(r["n"]) for r in rows}
    male = [-by.get(("M", b), 0) for b in bands]
    female = [by.get(("F", b), 0) for b in bands]
    return {
        "data": [
            {"type": "bar", "orientation": "h", "name": t("sex.M"), "y": labels, "x": male},
            {"type": "bar", "orientation": "h", "name": t("sex.F"), "y": labels, "x": female},
        ],
        "layout": _layout(title, barmode="relative", xaxis={"title": {"text": t("chart.persons")}}),
    }


def monthly(title: str, rows: list[dict[str, Any]], t: Callable[..., str]) -> dict[str, Any]:
    kinds = sorted({r["kind"] for r in rows})
    data = []
    for kind in kinds:
        pts = [r for r in rows if r["kind"] == kind]
        data.append(
            {
                "type": "scatter",
                "mode": "lines",
                "name": t(f"visit.{kind}"),
                "x": [r["month"] for r in pts],
                "y": [r["n"] for r in pts],
            }
        )
    return {"data": data, "layout": _layout(title)}


def lab_trend(code: str, points: list[tuple[str, float]]) -> dict[str, Any]:
    return {
        "data": [
            {
                "type": "scatter",
                "mode": "lines+markers",
                "x": [p[0] for p in points],
                "y": [p[1] for p in points],
            }
        ],
        "layout": {**_layout(code), "height": 240},
    }
