"""Integer literals in concrete syntax: the dimension arguments of transpose, permute, sum..."""

from __future__ import annotations

import libcst as cst


def literal_int(node: cst.BaseExpression) -> int | None:
    """``3`` or ``-1`` (a unary minus on an integer); None for anything else."""
    if isinstance(node, cst.Integer):
        return int(node.value, 0)
    if isinstance(node, cst.UnaryOperation) and isinstance(node.operator, cst.Minus) and isinstance(node.expression, cst.Integer):
        return -int(node.expression.value, 0)
    return None


def literal_int_sequence(node: cst.BaseExpression) -> list[int] | None:
    """``(0, 2, 1)`` or ``[0, 2, 1]`` with only integer literals; None otherwise."""
    if isinstance(node, (cst.Tuple, cst.List)) and node.elements:
        values = [literal_int(e.value) if not isinstance(e, cst.StarredElement) else None for e in node.elements]
        return None if any(v is None for v in values) else values  # type: ignore[return-value]
    return None
