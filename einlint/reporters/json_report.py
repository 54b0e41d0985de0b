"""A JSON list of findings: path, line, col, end_line, end_col (1-based, columns in characters), code,
message, and fix: null, or its applicability, assumptions, the main replacement and every edit as a
range and its new content, so that another tool applies exactly what ``--fix`` applies. In a
notebook, ``cell`` is the 1-based cell number and lines count within the cell. Where ``einlint
observe`` recorded the finding's statement (or its unsafe fix was never run), ``observed`` says what
was seen and what it made of the fix."""

from __future__ import annotations

import json

from einlint.diagnostics import Observed
from einlint.reporters import EditView, FindingView, Place, ReportInput


def _location(place: Place) -> dict:
    location = {"row": place.line, "column": place.column}
    if place.cell is not None:
        location["cell"] = place.cell
    return location


def _edit(edit: EditView) -> dict:
    return {"content": edit.content, "location": _location(edit.start), "end_location": _location(edit.end)}


def finding(view: FindingView) -> dict:
    d = view.diagnostic
    item = {
        "path": d.path,
        "line": view.start.line,
        "col": view.start.column,
        "end_line": view.end.line,
        "end_col": view.end.column,
        "code": d.code,
        "message": d.message,
        "fix": None
        if view.fix is None
        else {
            "applicability": view.fix.applicability.value,
            "replacement": view.fix.replacement,
            "assumptions": list(view.fix.assumptions),
            "edits": [_edit(edit) for edit in view.edits],
        },
    }
    if view.start.cell is not None:
        item["cell"] = view.start.cell
    if d.observed is not None:
        item["observed"] = observed(d.observed)
    return item


def observed(value: Observed) -> dict:
    return {
        "status": value.status,
        "executions": value.executions,
        "seconds": value.seconds,
        "raised": value.raised,
        "classes": list(value.classes),
        "ranks": list(value.ranks),
        "dtypes": list(value.dtypes),
        "devices": list(value.devices),
        "reason": value.reason,
    }


def render(report: ReportInput) -> str:
    return json.dumps([finding(view) for view in report.findings], indent=2) + "\n"
