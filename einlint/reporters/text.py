"""``path:line:col: CODE [*] message`` per finding (``path:cell N:line:col`` in a notebook), ``[*]`` on
findings that a fix can resolve (``[observed]`` where the fix is an observed one), what ``einlint
observe`` measured there, then a summary. Control characters from the source are escaped."""

from __future__ import annotations

from collections import Counter

from einlint.diagnostics import Applicability, Diagnostic, Observed
from einlint.reporters import FindingView, Place, ReportInput, printable


def location(path: str, place: Place) -> str:
    cell = f"cell {place.cell}:" if place.cell is not None else ""
    return f"{printable(path)}:{cell}{place.line}:{place.column}"


def finding_line(view: FindingView) -> str:
    marker = ""
    if view.fix is not None:
        marker = " [observed]" if view.fix.applicability is Applicability.OBSERVED else " [*]"
    line = f"{location(view.path, view.start)}: {view.diagnostic.code}{marker} {printable(view.diagnostic.message)}"
    return line + observed_note(view.diagnostic.observed)


def observed_note(observed: Observed | None) -> str:
    """What ``einlint observe`` measured at the finding, in a few words."""
    if observed is None or observed.status == "not observed":
        return ""
    runs = f"{observed.executions} execution{'s' if observed.executions != 1 else ''}"
    note = f" (observed: {runs}, {duration(observed.seconds)}"
    if observed.status == "unconfirmed" and observed.reason:
        note += f"; fix not confirmed: {printable(observed.reason)}"
    return note + ")"


def duration(seconds: float) -> str:
    if seconds >= 1:
        return f"{seconds:.2f} s"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.1f} ms"
    return f"{seconds * 1e6:.0f} us"


def render(report: ReportInput) -> str:
    lines = [finding_line(view) for view in report.findings]
    return "\n".join(lines) + ("\n" if lines else "")


def summary(findings: list[FindingView], fixed: int = 0, dry_run: bool = False, errors: int = 0, checked: int = 1) -> str:
    observed = sum(1 for view in findings if view.fix is not None and view.fix.applicability is Applicability.OBSERVED)
    fixable = sum(1 for view in findings if view.fix is not None) - observed
    hidden_unsafe = sum(1 for view in findings if view.diagnostic.fix is not None and view.fix is None)
    parts = []
    if fixed:
        verb = "Would fix" if dry_run else "Fixed"
        parts.append(f"{verb} {fixed} finding{'s' if fixed != 1 else ''}.")
    if findings:
        parts.append(f"Found {len(findings)} finding{'s' if len(findings) != 1 else ''}.")
        if fixable:
            parts.append(f"[*] {fixable} fixable with --fix.")
        if observed:
            parts.append(f"[observed] {observed} fixable with --fix --observed-fixes.")
        if hidden_unsafe:
            parts.append(f"{hidden_unsafe} more fixable with --fix --unsafe-fixes.")
    elif not fixed and not errors:
        parts.append("All checks passed." if checked else "No files to check.")
    if errors:
        parts.append(f"{errors} file{'s' if errors != 1 else ''} could not be checked (see errors above).")
    return " ".join(parts)


def statistics(diagnostics: list[Diagnostic], names: dict[str, str]) -> str:
    counts = Counter(d.code for d in diagnostics)
    return "".join(f"{count:>6}  {code}  {names.get(code, '')}\n" for code, count in sorted(counts.items()))
