"""GitHub Actions workflow commands: one ``::warning`` annotation per finding."""

from __future__ import annotations

from einlint.diagnostics import Diagnostic


def _escape_data(value: str) -> str:
    return value.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(value: str) -> str:
    return _escape_data(value).replace(":", "%3A").replace(",", "%2C")


def render(diagnostics: list[Diagnostic], unsafe_fixes: bool) -> str:
    lines = []
    for d in diagnostics:
        properties = (
            f"file={_escape_property(d.path)},line={d.line},col={d.col + 1},"
            f"endLine={d.end_line},endColumn={d.end_col + 1},title={d.code}"
        )
        lines.append(f"::warning {properties}::{_escape_data(f'{d.code} {d.message}')}")
    return "\n".join(lines) + ("\n" if lines else "")
