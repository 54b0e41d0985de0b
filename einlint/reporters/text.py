"""``path:line:col: CODE message``, ``[*]`` on findings that a fix can resolve, then a summary."""

from __future__ import annotations

from collections import Counter

from einlint.diagnostics import Diagnostic


def render(diagnostics: list[Diagnostic], unsafe_fixes: bool) -> str:
    lines = []
    for diagnostic in diagnostics:
        marker = " [*]" if diagnostic.fix_shown(unsafe_fixes) else ""
        lines.append(f"{diagnostic.path}:{diagnostic.line}:{diagnostic.col + 1}: {diagnostic.code}{marker} {diagnostic.message}")
    return "\n".join(lines) + ("\n" if lines else "")


def summary(diagnostics: list[Diagnostic], unsafe_fixes: bool, fixed: int = 0, dry_run: bool = False, errors: int = 0) -> str:
    fixable = sum(1 for d in diagnostics if d.fix_shown(unsafe_fixes))
    hidden_unsafe = 0 if unsafe_fixes else sum(1 for d in diagnostics if d.fix is not None and d.fix_shown(False) is None)
    parts = []
    if fixed:
        verb = "Would fix" if dry_run else "Fixed"
        parts.append(f"{verb} {fixed} finding{'s' if fixed != 1 else ''}.")
    if diagnostics:
        parts.append(f"Found {len(diagnostics)} finding{'s' if len(diagnostics) != 1 else ''}.")
        if fixable:
            parts.append(f"[*] {fixable} fixable with --fix.")
        if hidden_unsafe:
            parts.append(f"{hidden_unsafe} more fixable with --fix --unsafe-fixes.")
    elif not fixed and not errors:
        parts.append("All checks passed.")
    if errors:
        parts.append(f"{errors} file{'s' if errors != 1 else ''} could not be checked (see errors above).")
    return " ".join(parts)


def statistics(diagnostics: list[Diagnostic], names: dict[str, str]) -> str:
    counts = Counter(d.code for d in diagnostics)
    return "".join(f"{count:>6}  {code}  {names.get(code, '')}\n" for code, count in sorted(counts.items()))
