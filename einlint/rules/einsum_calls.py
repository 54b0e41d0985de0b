"""Recognise ``torch.einsum`` calls however torch was imported, and take them apart: the equation
literal (with where each of its characters sits in the source) and the operands."""

from __future__ import annotations

from dataclasses import dataclass

import libcst as cst

from einlint.engine.context import RuleContext
from einlint.rule_protocol import VerificationTarget

EINSUM = "torch.einsum"


@dataclass(frozen=True)
class EquationLiteral:
    node: cst.SimpleString
    value: str
    # Offset of the value's first character inside the literal's source text; None when escapes
    # make source offsets and value offsets differ.
    value_offset: int | None

    def source_offset(self, index: int) -> int:
        return self.value_offset + index if self.value_offset is not None else 0

    def with_value(self, value: str) -> cst.SimpleString:
        """The same literal (prefix and quotes kept) holding ``value``."""
        prefix, quote = self.node.prefix, self.node.quote
        return self.node.with_changes(value=f"{prefix}{quote}{value}{quote}")


@dataclass(frozen=True)
class EinsumCall:
    call: cst.Call
    equation: EquationLiteral | None  # None when the equation is not a plain string literal
    operands: tuple[cst.BaseExpression, ...] | None  # None when their number is not known statically

    def target(self, what: str, equation: str) -> VerificationTarget:
        """The call as what verifying a fix inside it runs; ``equation``: the one the fix writes."""
        return VerificationTarget(what, self.call, self.operands or (), equation)


def is_einsum(call: cst.Call, context: RuleContext) -> bool:
    return context.qualified_name(call.func) == EINSUM


def einsum_call(call: cst.Call, context: RuleContext) -> EinsumCall | None:
    """``call`` taken apart, when it is a call of torch's einsum. Several rules ask about each call of a
    unit; the answer is computed once per unit (the memo holds the node, so its id stays its own)."""
    memo = context.unit.memo.setdefault("einsum-call", {})
    held = memo.get(id(call))
    if held is None or held[0] is not call:
        held = memo[id(call)] = (call, _einsum_call(call, context))
    return held[1]


def _einsum_call(call: cst.Call, context: RuleContext) -> EinsumCall | None:
    if not is_einsum(call, context) or not call.args:
        return None
    first = call.args[0]
    if first.keyword is not None or first.star:
        return None
    equation = equation_literal(first.value)
    if equation is None and _sublist_form(call.args):
        # einsum(a, [0, 1], b, [1, 2], [0, 2]): operands alternate with subscript lists (EIN010)
        arguments = call.args[:-1] if len(call.args) % 2 == 1 else call.args
        return EinsumCall(call, None, tuple(arg.value for arg in arguments[::2]))
    rest = call.args[1:]
    operands: tuple[cst.BaseExpression, ...] | None
    if any(arg.star or arg.keyword is not None for arg in rest):
        operands = None
    elif len(rest) == 1 and isinstance(rest[0].value, (cst.List, cst.Tuple)):
        elements = rest[0].value.elements
        operands = None if any(isinstance(e, cst.StarredElement) for e in elements) else tuple(e.value for e in elements)
    elif len(rest) == 1 and not _tensor_like(rest[0].value, context):
        operands = None  # einsum(eq, operand_list) with the list held in a variable
    else:
        operands = tuple(arg.value for arg in rest)
    return EinsumCall(call, equation, operands)


def _sublist_form(args) -> bool:
    """Is the second argument a literal list or tuple of integers and ``...``, as in the sublist form?"""
    if len(args) < 2 or args[1].keyword is not None or args[1].star or not isinstance(args[1].value, (cst.List, cst.Tuple)):
        return False
    elements = args[1].value.elements
    return all(
        isinstance(element, cst.Element) and (isinstance(element.value, (cst.Integer, cst.Ellipsis)) or isinstance(element.value, cst.UnaryOperation))
        for element in elements
    )


def _tensor_like(node: cst.BaseExpression, context: RuleContext) -> bool:
    # A rank fact (``b, n = x.shape``) also rules out a list of operands.
    evidence = context.operand_evidence(node)
    return evidence.is_tensor or evidence.tensor_methods or evidence.rank is not None


def equation_literal(node: cst.BaseExpression) -> EquationLiteral | None:
    if not isinstance(node, cst.SimpleString):
        return None
    if "b" in node.prefix.lower():
        return None
    inner = node.value[len(node.prefix) + len(node.quote) : len(node.value) - len(node.quote)]
    if "\\" in inner or "\r" in inner:
        # An escape, or a line break Python's reader normalises: evaluate the literal.
        try:
            value = node.evaluated_value
        except Exception:  # noqa: BLE001 - libcst evaluates with literal_eval; any failure means "unknown"
            return None
        if not isinstance(value, str):
            return None
    else:
        value = inner  # nothing to interpret (what nearly every equation is): no parse needed
    offset = len(node.prefix) + len(node.quote) if inner == value else None
    return EquationLiteral(node, value, offset)
