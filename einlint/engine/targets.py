"""A rule's verification target (``rule_protocol.VerificationTarget``) as text: the expression that
consumes the rewrite before the fix and with the fix's edits applied inside it, each complete in
itself. Only slices of the file and the fix's own edits: nothing is searched for or guessed here."""

from __future__ import annotations

import ast
from typing import TYPE_CHECKING

import libcst as cst

from einlint.diagnostics import Edit, FixTarget
from einlint.engine.source import LINE_BREAK

if TYPE_CHECKING:
    from einlint.engine.units import Unit
    from einlint.rule_protocol import Binding, VerificationTarget


def fix_target(target: VerificationTarget, unit: Unit, edits: list[Edit]) -> FixTarget | None:
    """``target`` as text; ``edits`` are the fix's edits of nodes in the unit. None when an edit lies
    outside the consumer (the rule named the wrong expression) or a binding cannot be put in."""
    start, end = unit.span(target.consumer)
    text = unit.source.text
    if target.in_place_matmul is not None:
        # ``x @= v`` becomes ``x = e``: the edit of the operator is the one outside ``v``.
        edits = [edit for edit in edits if not (edit.replacement == "=" and text[edit.start : edit.end] == "@=")]
    for edit in edits:
        if edit.end < start or edit.start > end:
            return None
        if text[edit.start : start].strip("( \t") or text[end : edit.end].strip(") \t"):
            return None  # past the consumer by more than its own parentheses (which an edit may take in)
        start, end = min(start, edit.start), max(end, edit.end)
    original = text[start:end]
    rewritten = original
    for edit in sorted(edits, key=lambda edit: edit.start, reverse=True):
        rewritten = rewritten[: edit.start - start] + edit.replacement + rewritten[edit.end - start :]
    if target.bindings:
        original_read = _with_values(original, target.bindings, unit, rewritten_side=False)
        rewritten_read = _with_values(rewritten, target.bindings, unit, rewritten_side=True)
        if original_read is None or rewritten_read is None:
            return None
        original, rewritten = original_read, rewritten_read
    if target.in_place_matmul is not None:
        original = f"{target.in_place_matmul} @ ({original})"
    operands = tuple(_written(operand, unit) for operand in target.operands)
    return FixTarget(target.what, original, rewritten, operands, target.equation)


def _with_values(expression: str, bindings: tuple[Binding, ...], unit: Unit, rewritten_side: bool) -> str | None:
    values = {}
    for binding in bindings:
        value = binding.rewritten if rewritten_side else binding.original
        if value is not None:
            values[binding.name] = _written(value, unit)
    return substitute_names(expression, values) if values else expression


def substitute_names(expression: str, values: dict[str, str]) -> str | None:
    """``expression`` with every read of a name in ``values`` replaced by ``(value)``, the rest as
    written; None when ``expression`` is not one."""
    try:
        tree = ast.parse(f"(\n{expression}\n)", mode="eval")
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None
    line_starts = [0] + [match.end() for match in LINE_BREAK.finditer(expression)]

    def offset(line: int, byte_column: int) -> int:
        start = line_starts[line - 2]  # line 1 is the added parenthesis
        following = line_starts[line - 1] if line - 1 < len(line_starts) else len(expression)
        encoded = expression[start:following].encode("utf-8", "surrogatepass")
        return start + len(encoded[:byte_column].decode("utf-8", "replace"))

    reads = [
        (offset(node.lineno, node.col_offset), offset(node.end_lineno or node.lineno, node.end_col_offset or 0), values[node.id])
        for node in ast.walk(tree)
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load) and node.id in values
    ]
    for start, end, value in sorted(reads, reverse=True):
        expression = f"{expression[:start]}({value}){expression[end:]}"
    return expression


def _written(node: cst.CSTNode | str, unit: Unit) -> str:
    return node if isinstance(node, str) else unit.written(node)
