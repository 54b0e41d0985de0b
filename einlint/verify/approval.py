"""Which fixes ``--fix --verify`` may apply: those whose verdict allows it, recognised again by what they
replace and what they put there (offsets move once earlier fixes in the file are applied)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from einlint.diagnostics import Diagnostic
from einlint.verify.targets import edits_key
from einlint.verify.timing import SLOWER


@dataclass(frozen=True)
class ApprovedFixes:
    """A predicate for the fixer: ``approved(diagnostic, source_text)``. Plain data, so that it travels
    to worker processes without importing torch there."""

    keys: frozenset[tuple[str, tuple[tuple[str, str], ...]]]  # (path, (replaced text, replacement) per edit)

    @classmethod
    def from_verifications(cls, verifications: Iterable, only_faster: bool = False) -> ApprovedFixes:
        keys = frozenset(
            (item.path, item.edits)
            for item in verifications
            if item.result.equivalent and not (only_faster and item.result.speed == SLOWER)
        )  # fmt: skip
        return cls(keys)

    def __call__(self, diagnostic: Diagnostic, source_text: str) -> bool:
        return (diagnostic.path, edits_key(diagnostic, source_text)) in self.keys
