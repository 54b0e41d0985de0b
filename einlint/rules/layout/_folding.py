"""Shared by EIN201/EIN202: rewrite an einsum call so that one operand's reordering view is
expressed by its labels instead."""

from __future__ import annotations

import libcst as cst

from einlint.diagnostics import Applicability
from einlint.equation.model import Equation, EquationSyntaxError, parse_equation
from einlint.rules.base import FixProposal
from einlint.rules.einsum_calls import EinsumCall
from einlint.rules.layout._views import ReorderingView, fold_into_term


def parsed(call: EinsumCall) -> Equation | None:
    if call.equation is None or call.operands is None:
        return None
    try:
        equation = parse_equation(call.equation.value)
    except EquationSyntaxError:
        return None
    return equation if len(equation.inputs) == len(call.operands) else None


def folded_equation(call: EinsumCall, equation: Equation, position: int, view: ReorderingView) -> str | None:
    """The equation text with operand ``position``'s term relabelled for the view's receiver."""
    literal = call.equation
    assert literal is not None
    term = equation.inputs[position]
    labels = fold_into_term(view, term)
    if labels is None or literal.value_offset is None:
        return None
    text = list(literal.value)
    for offset, old, new in zip(term.offsets, term.labels, labels):
        if old != new:
            text[offset] = new  # both are single letters here: an ellipsis never moves
    return "".join(text)


def fold_fix(call: EinsumCall, new_equation: str, replaced: cst.BaseExpression, receiver_code: str, tensor_proven: bool, what: str) -> FixProposal:
    """``what``: the call as the verdict names it (the einsum call that consumes the view, or the copy)."""
    literal = call.equation
    assert literal is not None
    target = call.target(what, new_equation)
    if tensor_proven:
        return FixProposal(literal.node, literal.with_value(new_equation), extra=((replaced, receiver_code),), target=target)
    return FixProposal(
        literal.node,
        literal.with_value(new_equation),
        Applicability.UNSAFE,
        ("tensor-operands",),
        extra=((replaced, receiver_code),),
        target=target,
    )


def returns_fresh_tensor(equation: Equation, operand_count: int) -> bool:
    """True when einsum must compute a new tensor (a product of operands or a sum), never a view of an
    input: only then can a copy of an input be dropped without the result starting to alias it."""
    if operand_count >= 2:
        return True
    output = set(equation.effective_output().letters)
    return any(label not in output for term in equation.inputs for label in term.letters)
