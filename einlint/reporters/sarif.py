"""SARIF 2.1.0, the format code-scanning services ingest: results with their fixes (as artifact
changes), columns counted in Unicode code points, percent-encoded URIs, and every file that could not
be checked as a tool execution notification."""

from __future__ import annotations

import json
import os
from pathlib import Path
from urllib.parse import quote

from einlint import __version__
from einlint.reporters import FindingView, Place, ReportInput

SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"


def uri(path: str) -> str:
    posix = Path(path).as_posix()
    if os.path.isabs(path):
        return "file://" + quote(posix)
    return quote(posix)


def _region(start: Place, end: Place) -> dict:
    return {"startLine": start.line, "startColumn": start.column, "endLine": end.line, "endColumn": end.column}


def _result(view: FindingView, index: dict[str, int]) -> dict:
    d = view.diagnostic
    result: dict = {
        "ruleId": d.code,
        "ruleIndex": index.get(d.code, -1),
        "level": "warning",
        "message": {"text": d.message},
        "locations": [{"physicalLocation": {"artifactLocation": {"uri": uri(d.path)}, "region": _region(view.start, view.end)}}],
    }
    if view.start.cell is not None:
        result["properties"] = {"cell": view.start.cell}
    if view.fix is not None:
        result.setdefault("properties", {}).update({"fixApplicability": view.fix.applicability.value, "assumptions": list(view.fix.assumptions)})
        if view.edits:
            result["fixes"] = [
                {
                    "description": {"text": f"{view.fix.applicability.value} fix for {d.code}"},
                    "artifactChanges": [
                        {
                            "artifactLocation": {"uri": uri(d.path)},
                            "replacements": [
                                {"deletedRegion": _region(edit.start, edit.end), "insertedContent": {"text": edit.content}} for edit in view.edits
                            ],
                        }
                    ],
                }
            ]
    return result


def render(report: ReportInput) -> str:
    from einlint.explanation import PROJECT_PAGE, explanation
    from einlint.rules import all_rules

    rules = [
        {
            "id": rule.code,
            "name": rule.name,
            "shortDescription": {"text": rule.summary()},
            "fullDescription": {"text": rule.documentation()},
            "help": {"text": explanation(rule)},
            "helpUri": PROJECT_PAGE,
            "defaultConfiguration": {"enabled": rule.enabled_by_default, "level": "warning"},
        }
        for rule in all_rules()
    ]
    index = {rule.code: position for position, rule in enumerate(all_rules())}
    notifications = [
        {
            "level": "error",
            "message": {"text": error.reason},
            "locations": [{"physicalLocation": {"artifactLocation": {"uri": uri(error.path)}}}],
        }
        for error in report.errors
    ]
    log = {
        "$schema": SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {"driver": {"name": "einlint", "version": __version__, "informationUri": PROJECT_PAGE, "rules": rules}},
                "columnKind": "unicodeCodePoints",
                "invocations": [{"executionSuccessful": not report.errors, "toolExecutionNotifications": notifications}],
                "results": [_result(view, index) for view in report.findings],
            }
        ],
    }
    return json.dumps(log, indent=2) + "\n"
