"""What ``einlint observe`` recorded of a fix's operands, in the form the verifier builds input cases
from: the shapes seen of each operand, their floating dtypes, devices and whether each was always
contiguous. No torch (nor libcst) is imported with it; the verifier (``einlint.verify.inputs``) turns this into tensors.

The recorder samples each operand's shapes on its own (up to ``SHAPE_SAMPLE`` each), not which shapes
came together, so the verifier tries combinations of them and keeps those the original accepts.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from einlint.diagnostics import Diagnostic
    from einlint.observe.observations import Observations


@dataclass(frozen=True)
class ObservedOperands:
    """The observed facts of one fix's operands, each operand by its normalised source text."""

    shapes: tuple[tuple[str, tuple[tuple[int, ...], ...]], ...]  # (operand text, shapes seen)
    dtypes: tuple[str, ...]  # real floating dtypes seen ("float32"), on every operand together
    devices: tuple[str, ...]  # "cpu", "cuda", ...
    contiguous: bool  # every strided read of every operand was contiguous
    executions: int

    def shapes_of(self, operand_text: str) -> tuple[tuple[int, ...], ...] | None:
        wanted = normalised(operand_text)
        return next((shapes for text, shapes in self.shapes if text == wanted), None)


def normalised(operand_text: str) -> str:
    """An operand's text as ``ast.unparse`` writes it: how the verifier names its placeholders."""
    try:
        return ast.unparse(ast.parse(operand_text.strip(), mode="eval").body)
    except (SyntaxError, ValueError, RecursionError):
        return operand_text.strip()


def observed_operands(diagnostic: Diagnostic, text: str, observations: Observations) -> ObservedOperands | None:
    """The observed facts of the operands of ``diagnostic``'s fix in its file's current ``text``; None
    where its statement was not recorded (or was edited since), or no operand's shape was seen."""
    # Imported here: the verifier's worker imports this module for ObservedOperands alone, and
    # reading a file's statements brings libcst.
    from einlint.observe.judgement import FLOATING_DTYPES
    from einlint.observe.sites import find_statement, fix_rewrite, source_lines

    fix = diagnostic.fix
    relative = observations.relative(diagnostic.path)
    if fix is None or relative is None or relative not in observations.paths():
        return None
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None
    statement = find_statement(tree, source_lines(text), diagnostic.line)
    if statement is None:
        return None
    site = observations.at(relative, statement.line, statement.statement_hash)
    rewrite = fix_rewrite(text, fix, statement.bound_inside)
    if site is None or rewrite is None:
        return None
    shapes: list[tuple[str, tuple[tuple[int, ...], ...]]] = []
    dtypes: set[str] = set()
    devices: set[str] = set()
    contiguous = True
    for operand in rewrite.operands:
        facts = site.operands.get(operand.text)
        if facts is None or not facts.shapes:
            continue
        shapes.append((normalised(operand.text), facts.shapes))
        dtypes.update(dtype.removeprefix("torch.") for dtype in facts.seen("dtypes") if dtype in FLOATING_DTYPES)
        devices.update(facts.seen("devices"))
        contiguous = contiguous and "false" not in facts.counts.get("contiguous", {})
    if not shapes:
        return None
    return ObservedOperands(tuple(shapes), tuple(sorted(dtypes)), tuple(sorted(devices)), contiguous, site.executions)
