"""Apply fixes to a file's text until nothing more applies, and write the result atomically."""

from __future__ import annotations

import ast
import os
import re
import secrets
import stat
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from einlint.config import Settings
from einlint.diagnostics import Diagnostic, Edit, FileError
from einlint.engine.runner import RuleSet, lint_source, parse_failure
from einlint.engine.source import SourceText

# Fixing repeats until no fix is left: nested chains (``mm(mm(mm(a, b.t()), c.t()), d.t())``) need one
# round per level, since a fix that contains another waits for it. The bound only stops a pathological
# file (a round costs one lint of the file).
MAX_ROUNDS = 100


@dataclass
class FixOutcome:
    text: str
    remaining: list[Diagnostic] = field(default_factory=list)
    applied: list[Diagnostic] = field(default_factory=list)
    error: FileError | None = None


def select_edits(
    diagnostics: list[Diagnostic], unsafe_fixes: bool, accept: Callable[[Diagnostic], bool] | None = None, observed_fixes: bool = False
) -> tuple[list[Edit], list[Diagnostic]]:
    """The edits of every applicable fix (that ``accept`` accepts, when given) that does not overlap an
    earlier one; overlapping fixes wait for the next round, when they are recomputed on the changed text."""
    chosen: list[Edit] = []
    applied: list[Diagnostic] = []
    taken: list[tuple[int, int]] = []
    unbound: set[str] = set()
    for diagnostic in sorted(diagnostics, key=lambda d: d.fix.edits[0].start if d.fix and d.fix.edits else 0):
        fix = diagnostic.fix_applied(unsafe_fixes, observed_fixes)
        if fix is None or not fix.edits or (accept is not None and not accept(diagnostic)):
            continue
        if any(_overlaps(edit, start, end) for edit in fix.edits for start, end in taken):
            continue
        # A fix that removes an import must not share a round with one that writes the name again.
        if _writes_any(fix.edits, unbound) or _writes_any(chosen, set(fix.removed_imports)):
            continue
        unbound.update(fix.removed_imports)
        chosen.extend(fix.edits)
        taken.extend((edit.start, edit.end) for edit in fix.edits)
        applied.append(diagnostic)
    return chosen, applied


def _writes_any(edits: Iterable[Edit], names: set[str]) -> bool:
    return bool(names) and any(re.search(rf"(?<![\w.]){re.escape(name)}(?!\w)", edit.replacement) for edit in edits for name in names)


def _overlaps(edit: Edit, start: int, end: int) -> bool:
    return edit.start < end and start < edit.end or (edit.start == edit.end == start)


def apply_edits(text: str, edits: list[Edit]) -> str:
    """Splice non-overlapping edits in one pass (rebuilding the text once per edit is quadratic on a
    large file with many fixes)."""
    pieces: list[str] = []
    position = 0
    for edit in sorted(edits, key=lambda e: (e.start, e.end)):
        pieces.append(text[position : edit.start])
        pieces.append(edit.replacement)
        position = edit.end
    pieces.append(text[position:])
    return "".join(pieces)


def fix_source(
    source: SourceText,
    settings: Settings,
    rule_set: RuleSet,
    unsafe_fixes: bool,
    fix_filter: Callable[[Diagnostic, str], bool] | None = None,
    observed_fixes: bool = False,
    judge: Callable[[list[Diagnostic], str], list[Diagnostic]] | None = None,
) -> FixOutcome:
    """Fix until nothing more applies. ``judge`` (observations) turns each round's findings into what
    observation leaves of their fixes, before the round chooses which to apply."""
    current = source
    applied_all: list[Diagnostic] = []
    result = _judged(lint_source(current, settings, rule_set), judge)
    for _ in range(MAX_ROUNDS):
        if result.error is not None:
            return FixOutcome(current.text, [], applied_all, result.error)
        text = current.text
        accept = None if fix_filter is None else (lambda diagnostic: fix_filter(diagnostic, text))
        edits, applied = select_edits(result.diagnostics, unsafe_fixes, accept, observed_fixes)
        if not edits:
            break
        new_text = apply_edits(current.text, edits)
        problem = _parse_problem(new_text)
        if problem is not None:
            # Name the rule whose fix breaks the code on its own, not every rule fixed in this round.
            culprits = [d for d in applied if d.fix is not None and _parse_problem(apply_edits(current.text, list(d.fix.edits)))] or applied
            codes = ", ".join(sorted({d.code for d in culprits}))
            message = f"internal error: the fix of {codes} produced code that does not parse ({problem}); file left unchanged"
            return FixOutcome(source.text, result.diagnostics, [], FileError(source.path, message, internal=True))
        applied_all.extend(applied)
        current = SourceText(source.path, new_text, source.encoding, source.bom)
        result = _judged(lint_source(current, settings, rule_set), judge)
    return FixOutcome(current.text, result.diagnostics, applied_all, result.error)


def _judged(result, judge: Callable[[list[Diagnostic], str], list[Diagnostic]] | None):
    if judge is not None and result.error is None and result.source is not None:
        result.diagnostics = judge(result.diagnostics, result.source.text)
    return result


def _parse_problem(text: str) -> str | None:
    try:
        ast.parse(text)
    except SyntaxError as error:
        return error.msg
    except (ValueError, RecursionError, MemoryError) as error:
        return parse_failure(error)
    return None


def _keep_owner(temporary: str, status: os.stat_result) -> None:
    """Give the new file the old one's owner and group, where this process may (root may; others may
    at most pick one of their own groups): a fixed file should not change hands."""
    try:
        os.chown(temporary, status.st_uid, status.st_gid)
    except OSError:
        try:
            os.chown(temporary, -1, status.st_gid)
        except OSError:
            pass


def write_atomically(path: str, data: bytes, expected_old: bytes) -> str | None:
    """Replace ``path`` with ``data`` via a temporary file in the same directory; keep the mode (and
    the owner and group, as far as this process may set them). Returns
    a one-line reason when the file was not written."""
    # Write through a symbolic link: replacing the link itself would turn it into a copy and leave
    # its target as it was.
    path = os.path.realpath(path)
    try:
        status = os.stat(path)
        mode = stat.S_IMODE(status.st_mode)
        # Root passes os.access whatever the mode says, and os.replace needs no write permission on
        # the file itself: a file nobody may write is read-only for einlint too.
        if not os.access(path, os.W_OK) or not mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH):
            return "the file is read-only; not rewritten"
        with open(path, "rb") as handle:
            if handle.read() != expected_old:
                return "changed on disk while einlint ran; not rewritten"
        directory = os.path.dirname(os.path.abspath(path))
    except OSError as error:
        return f"cannot write: {error.strerror or error}"
    # The name is chosen before the file exists, so that a signal arriving while it is being created
    # (inside mkstemp, before its name was known here) cannot leave it behind.
    temporary = os.path.join(directory, f".einlint-{secrets.token_hex(8)}.tmp")
    try:
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temporary, mode)
        if (status.st_uid, status.st_gid) != (os.geteuid(), os.getegid()):
            _keep_owner(temporary, status)
        os.replace(temporary, path)
    except BaseException as error:
        # Also on Ctrl-C mid-write: the original is intact, and no temporary file may stay behind.
        try:
            os.unlink(temporary)
        except OSError:
            pass
        if isinstance(error, OSError):
            return f"cannot write: {error.strerror or error}"
        raise
    return None
