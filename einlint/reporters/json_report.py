"""A JSON list of findings: path, line, col, end_line, end_col, code, message, fix (1-based columns)."""

from __future__ import annotations

import json

from einlint.diagnostics import Diagnostic, diagnostic_to_dict


def render(diagnostics: list[Diagnostic], unsafe_fixes: bool) -> str:
    items = []
    for diagnostic in diagnostics:
        item = diagnostic_to_dict(diagnostic, unsafe_fixes)
        item.pop("noqa_lines")
        if item["fix"] is not None:
            item["fix"].pop("edits")
        items.append(item)
    return json.dumps(items, indent=2) + "\n"
