"""GitHub Actions workflow commands: one ``::warning`` annotation per finding, one ``::error`` per
file that could not be checked. Values are escaped as the workflow-command syntax requires (``%``,
CR and LF in the message; also ``:`` and ``,`` in properties), and control characters never reach the
log raw."""

from __future__ import annotations

from einlint.reporters import ReportInput, printable


def _escape_data(value: str) -> str:
    return printable(value.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A"))


def _escape_property(value: str) -> str:
    return _escape_data(value).replace(":", "%3A").replace(",", "%2C")


def render(report: ReportInput) -> str:
    lines = []
    for view in report.findings:
        d = view.diagnostic
        where = f"cell {view.start.cell}, " if view.start.cell is not None else ""
        properties = (
            f"file={_escape_property(d.path)},line={view.start.line},col={view.start.column},"
            f"endLine={view.end.line},endColumn={view.end.column},title={_escape_property(d.code)}"
        )
        lines.append(f"::warning {properties}::{_escape_data(f'{where}{d.code} {d.message}')}")
    for error in report.errors:
        lines.append(f"::error file={_escape_property(error.path)},title=einlint::{_escape_data(error.reason)}")
    return "\n".join(lines) + ("\n" if lines else "")
