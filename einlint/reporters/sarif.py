"""SARIF 2.1.0, the format code-scanning services ingest."""

from __future__ import annotations

import json
from pathlib import Path

from einlint import __version__
from einlint.diagnostics import Diagnostic

SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"


def render(diagnostics: list[Diagnostic], unsafe_fixes: bool) -> str:
    from einlint.rules import all_rules

    rules = [
        {
            "id": rule.code,
            "name": rule.name,
            "shortDescription": {"text": rule.summary()},
            "fullDescription": {"text": rule.documentation()},
            "defaultConfiguration": {"enabled": rule.enabled_by_default, "level": "warning"},
        }
        for rule in all_rules()
    ]
    index = {rule["id"]: position for position, rule in enumerate(rules)}
    results = []
    for d in diagnostics:
        result = {
            "ruleId": d.code,
            "ruleIndex": index.get(d.code, -1),
            "level": "warning",
            "message": {"text": d.message},
            "locations": [
                {
                    "physicalLocation": {
                        "artifactLocation": {"uri": Path(d.path).as_posix()},
                        "region": {"startLine": d.line, "startColumn": d.col + 1, "endLine": d.end_line, "endColumn": d.end_col + 1},
                    }
                }
            ],
        }
        fix = d.fix_shown(unsafe_fixes)
        if fix is not None:
            result["properties"] = {"fixApplicability": fix.applicability.value, "assumptions": list(fix.assumptions)}
        results.append(result)
    log = {
        "$schema": SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {"driver": {"name": "einlint", "version": __version__, "informationUri": "https://pypi.org/project/einlint/", "rules": rules}},
                "results": results,
            }
        ],
    }
    return json.dumps(log, indent=2) + "\n"
