"""What a fix's verification runs: the target its rule put on it (``diagnostics.FixTarget``), read as
it is. Nothing here looks for the expression in the file: a fix without a target is not verifiable."""

from __future__ import annotations

import ast

from einlint.diagnostics import Diagnostic, FixTarget
from einlint.evidence.imports import ImportTable
from einlint.verify.errors import NotVerifiable

__all__ = ["edits_key", "file_imports", "fix_target"]

NO_TARGET = "the fix carries no verification target"


def fix_target(diagnostic: Diagnostic) -> FixTarget:
    """The target of ``diagnostic``'s fix; NotVerifiable when there is no fix or no target (a finding
    from a run that did not make one)."""
    fix = diagnostic.fix
    if fix is None:
        raise NotVerifiable("the finding has no fix")
    if fix.target is None:
        raise NotVerifiable(NO_TARGET)
    return fix.target


def file_imports(source_text: str) -> ImportTable:
    """The import aliases of the file, as the rewritten expressions spell torch (``t.einsum``)."""
    try:
        return ImportTable.from_module(ast.parse(source_text))
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return ImportTable()


def edits_key(diagnostic: Diagnostic, source_text: str) -> tuple[tuple[str, str], ...]:
    """What a fix replaces and with what, independent of where: offsets move as other fixes apply."""
    fix = diagnostic.fix
    if fix is None:
        return ()
    return tuple((source_text[edit.start : edit.end], edit.replacement) for edit in sorted(fix.edits, key=lambda e: e.start))
