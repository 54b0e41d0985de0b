"""Values that flow out of the rules: findings, the fixes they carry, and the edits a fix makes."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field


class Applicability(str, enum.Enum):
    """How far a fix can be trusted; data on the fix, never a convention in prose."""

    SAFE = "safe"  # equivalence is proven from the code itself
    UNSAFE = "unsafe"  # equivalent only under the named assumptions; applied on request
    # Unsafe, but every assumption held in every execution ``einlint observe`` recorded; applied with
    # --observed-fixes (or --unsafe-fixes).
    OBSERVED = "observed"


@dataclass(frozen=True)
class Edit:
    """Replace the characters ``[start, end)`` of the decoded source text with ``replacement``."""

    start: int
    end: int
    replacement: str


@dataclass(frozen=True)
class FixTarget:
    """What verifying a fix runs: the whole expression that consumes the rewrite, as ``original`` and
    as ``rewritten`` (the fix's edits applied inside it), each complete in itself (a temporary it
    reads is replaced by its value); ``description`` says which expression that is; ``operands`` and
    ``equation`` are the contraction's, as the rule knew them."""

    description: str
    original: str
    rewritten: str
    operands: tuple[str, ...] = ()
    equation: str = ""

    def to_dict(self) -> dict:
        return {
            "description": self.description, "original": self.original, "rewritten": self.rewritten,
            "operands": list(self.operands), "equation": self.equation,
        }  # fmt: skip

    @classmethod
    def from_dict(cls, data: dict) -> FixTarget:
        operands = data["operands"]
        values = (data["description"], data["original"], data["rewritten"], data["equation"], *operands)
        if not isinstance(operands, list) or not all(isinstance(value, str) for value in values):
            raise TypeError("a verification target holds text")
        return cls(data["description"], data["original"], data["rewritten"], tuple(operands), data["equation"])


@dataclass(frozen=True)
class Fix:
    applicability: Applicability
    edits: tuple[Edit, ...]
    assumptions: tuple[str, ...] = ()
    # Names whose import the fix removes (its last use is rewritten): another fix that writes one of
    # them must wait for the next round.
    removed_imports: tuple[str, ...] = ()
    # What ``--verify`` runs (None: a fix made without one, which is then not verifiable).
    target: FixTarget | None = field(default=None, compare=False)

    @property
    def replacement(self) -> str:
        """The text of the main edit, for reporters that show one replacement string."""
        return self.edits[0].replacement if self.edits else ""


@dataclass(frozen=True)
class Observed:
    """What ``einlint observe`` recorded at a finding's statement, and what it means for the fix.

    ``status``: "observed" (every assumption of the fix held in every recorded execution),
    "withdrawn" (an execution contradicted one: the fix is removed, ``reason`` says what was seen),
    "unconfirmed" (it ran, but an assumption cannot be confirmed by what was recorded), "not observed"
    (the statement never ran while recording), or "measured" (no unsafe fix: time and counts only)."""

    status: str
    executions: int = 0
    seconds: float = 0.0
    raised: int = 0
    classes: tuple[str, ...] = ()
    ranks: tuple[int, ...] = ()
    dtypes: tuple[str, ...] = ()
    devices: tuple[str, ...] = ()
    reason: str | None = None


@dataclass(frozen=True, order=True)
class Diagnostic:
    """One finding. ``line``/``end_line`` are 1-based; ``col``/``end_col`` are 0-based character
    offsets, as in flake8's plugin protocol (reporters add 1 for display)."""

    path: str
    line: int
    col: int
    end_line: int
    end_col: int
    code: str
    message: str
    fix: Fix | None = field(default=None, compare=False)
    # Source lines of the enclosing logical line, where noqa comments are searched (flake8 does the same).
    noqa_lines: tuple[int, int] = field(default=(0, 0), compare=False)
    observed: Observed | None = field(default=None, compare=False)

    def fix_shown(self, unsafe_fixes: bool) -> Fix | None:
        """The fix a user sees under the current tier setting (an observed fix is always shown)."""
        if self.fix is None:
            return None
        if self.fix.applicability is Applicability.UNSAFE and not unsafe_fixes:
            return None
        return self.fix

    def fix_applied(self, unsafe_fixes: bool, observed_fixes: bool = False) -> Fix | None:
        """The fix ``--fix`` applies under the current tier settings."""
        fix = self.fix_shown(unsafe_fixes)
        if fix is not None and fix.applicability is Applicability.OBSERVED and not (observed_fixes or unsafe_fixes):
            return None
        return fix


@dataclass(frozen=True)
class FileError:
    """A file that could not be processed: one line for the user, never a traceback."""

    path: str
    reason: str
    internal: bool = False


def diagnostic_to_dict(diagnostic: Diagnostic, unsafe_fixes: bool = True) -> dict:
    """The result cache's form of a finding; 1-based columns as shown to users."""
    fix = diagnostic.fix_shown(unsafe_fixes)
    return {
        "path": diagnostic.path,
        "line": diagnostic.line,
        "col": diagnostic.col + 1,
        "end_line": diagnostic.end_line,
        "end_col": diagnostic.end_col + 1,
        "code": diagnostic.code,
        "message": diagnostic.message,
        "fix": None
        if fix is None
        else {
            "applicability": fix.applicability.value,
            "replacement": fix.replacement,
            "assumptions": list(fix.assumptions),
            "edits": [[edit.start, edit.end, edit.replacement] for edit in fix.edits],
            "removed_imports": list(fix.removed_imports),
            "target": None if fix.target is None else fix.target.to_dict(),
        },
        "noqa_lines": list(diagnostic.noqa_lines),
    }


def diagnostic_from_dict(data: dict) -> Diagnostic:
    fix_data = data["fix"]
    fix = None
    if fix_data is not None:
        fix = Fix(
            Applicability(fix_data["applicability"]),
            tuple(Edit(start, end, text) for start, end, text in fix_data["edits"]),
            tuple(fix_data["assumptions"]),
            tuple(fix_data.get("removed_imports", ())),
            None if fix_data.get("target") is None else FixTarget.from_dict(fix_data["target"]),
        )
    return Diagnostic(
        data["path"], data["line"], data["col"] - 1, data["end_line"], data["end_col"] - 1,
        data["code"], data["message"], fix, tuple(data.get("noqa_lines", (0, 0))),
    )  # fmt: skip
