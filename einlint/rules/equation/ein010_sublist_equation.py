from __future__ import annotations

import libcst as cst

from einlint.equation.checks import OperandFacts, ProblemKind, check_equation
from einlint.equation.model import EquationSyntaxError, parse_equation
from einlint.rules.base import Example, Rule
from einlint.rules.einsum_calls import is_einsum
from einlint.rules.equation._checked import EINSUM_TRIGGERS

SUBSCRIPT_LIMIT = 52


class SublistEquation(Rule):
    """An einsum call in sublist form whose subscripts torch rejects or misreads.

    What it flags: ``torch.einsum(a, [0, 1], b, [1, 2], [0, 3])`` (output subscript 3 is in no input),
    ``torch.einsum(a, [0, 52])`` (subscripts must lie in [0, 52)), and every other problem EIN002-EIN008
    find in a string equation: a repeated output subscript, two ``...`` in one sublist, an operand whose
    known rank differs from its sublist's length, one subscript given two different literal sizes.

    Why it matters: torch turns the sublists into an equation (0-25 become ``A``-``Z``, 26-51 ``a``-``z``)
    and then raises, at run time, on the problems above. The message shows the equation torch builds.

    Fix: none: the intended subscripts cannot be derived.

    Fix safety: report-only. Only calls whose sublists are literal lists or tuples of integers and
    ``...`` are read; operands are counted from the call as written (no ``*args``).
    """

    code = "EIN010"
    name = "sublist-equation"
    triggers = EINSUM_TRIGGERS
    invalid = (
        Example("y = torch.einsum(a, [0, 1], b, [1, 2], [0, 3])"),
        Example("y = torch.einsum(torch.randn(2, 3, 4), [0, 1], [1, 0])"),
    )
    valid = ("y = torch.einsum(a, [0, 1], b, [1, 2], [0, 2])", "y = torch.einsum(a, [..., 0, 1], [..., 1])", "y = torch.einsum('ij->ji', a)")

    def visit_Call(self, node: cst.Call) -> None:
        args = node.args
        if len(args) < 2 or any(arg.keyword is not None or arg.star for arg in args) or not is_einsum(node, self.context):
            return
        if isinstance(args[0].value, (cst.SimpleString, cst.ConcatenatedString, cst.FormattedString)):
            return  # the string form: EIN001-EIN009
        sublists: list[list[int | None]] = []
        for arg in args[1::2] if len(args) % 2 == 0 else [*args[1:-1:2], args[-1]]:
            sublist = _literal_sublist(arg.value)
            if sublist is None:
                return
            sublists.append(sublist)
        has_output = len(args) % 2 == 1
        out_of_range = [value for sublist in sublists for value in sublist if value is not None and not 0 <= value < SUBSCRIPT_LIMIT]
        if out_of_range:
            self.report(node, f"sublist subscript {out_of_range[0]} is outside [0, {SUBSCRIPT_LIMIT}): torch.einsum raises")
            return
        terms = ["".join("..." if value is None else _letter(value) for value in sublist) for sublist in sublists]
        text = ",".join(terms[:-1] if has_output else terms) + (f"->{terms[-1]}" if has_output else "")
        try:
            equation = parse_equation(text)
        except EquationSyntaxError as error:
            self.report(node, f"the sublists read as '{text}', which torch.einsum rejects: {error}")
            return
        operands = args[:-1:2] if has_output else args[::2]
        facts = tuple(self._facts(arg.value) for arg in operands)
        for problem in check_equation(equation, len(operands), facts):
            if problem.kind is not ProblemKind.OUTPUT_ELLIPSIS_UNUSED:  # accepted by torch: a style matter
                self.report(node, f"the sublists read as '{text}': {problem.message}")

    def _facts(self, operand: cst.BaseExpression) -> OperandFacts:
        evidence = self.context.operand_evidence(operand)
        return OperandFacts(rank=evidence.rank, shape=evidence.shape)


def _literal_sublist(node: cst.BaseExpression) -> list[int | None] | None:
    """The integers of a literal list or tuple, None standing for ``...``; None when not literal."""
    if not isinstance(node, (cst.List, cst.Tuple)):
        return None
    values: list[int | None] = []
    for element in node.elements:
        if isinstance(element, cst.StarredElement):
            return None
        value = element.value
        if isinstance(value, cst.Ellipsis):
            values.append(None)
        elif isinstance(value, cst.Integer):
            values.append(int(value.evaluated_value))
        elif isinstance(value, cst.UnaryOperation) and isinstance(value.operator, cst.Minus) and isinstance(value.expression, cst.Integer):
            values.append(-int(value.expression.evaluated_value))
        else:
            return None
    return values


def _letter(subscript: int) -> str:
    """torch's own mapping: 0-25 are 'A'-'Z', 26-51 are 'a'-'z'."""
    return chr(ord("A") + subscript) if subscript < 26 else chr(ord("a") + subscript - 26)
