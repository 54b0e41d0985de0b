"""The shared shape of the EIN0xx rules: find each einsum call with a literal equation, check it once
against what is known about its operands, and report the problems of the rule's own kind."""

from __future__ import annotations

from typing import ClassVar

import libcst as cst

from einlint.equation.checks import OperandFacts, Problem, ProblemKind, check_equation
from einlint.equation.model import Equation, EquationSyntaxError, parse_equation
from einlint.rules.base import FixProposal, Rule, Triggers
from einlint.engine.context import RuleContext
from einlint.rules.einsum_calls import EinsumCall, einsum_call

EINSUM_TRIGGERS = Triggers(names=frozenset({"einsum"}))


class EquationRule(Rule):
    """Abstract: subclasses set ``problem_kind`` (or override ``check_call``)."""

    triggers = EINSUM_TRIGGERS
    problem_kind: ClassVar[ProblemKind | None] = None

    def visit_Call(self, node: cst.Call) -> None:
        checked = _checked_call(node, self.context)
        if checked is None:
            return
        call, outcome = checked
        if isinstance(outcome, EquationSyntaxError):
            self.on_syntax_error(call, outcome)
        else:
            self.check_call(call, *outcome)

    def on_syntax_error(self, call: EinsumCall, error: EquationSyntaxError) -> None:
        pass

    def check_call(self, call: EinsumCall, equation: Equation, problems: list[Problem]) -> None:
        for problem in problems:
            if problem.kind is self.problem_kind:
                self.report_in_equation(call, problem.index, problem.message)

    def report_in_equation(self, call: EinsumCall, index: int, message: str, fix: FixProposal | None = None) -> None:
        literal = call.equation
        assert literal is not None
        if fix is None:
            self.context.report_at(self.code, literal.node, literal.source_offset(index), message)
        else:
            start, _ = self.context.unit.span(literal.node)
            at = start + literal.source_offset(index)
            self.context.report(self.code, literal.node, message, fix, span=(at, at + 1))


def _checked_call(node: cst.Call, context: RuleContext) -> tuple[EinsumCall, EquationSyntaxError | tuple[Equation, list[Problem]]] | None:
    """The einsum call ``node`` with its equation checked against its operands, or the equation's
    syntax error. Every EIN0xx rule asks for the same check of each call: it runs once per unit."""
    memo = context.unit.memo.setdefault("checked-equation", {})
    held = memo.get(id(node))
    if held is None or held[0] is not node:
        held = memo[id(node)] = (node, _check_call(node, context))
    return held[1]


def _check_call(node: cst.Call, context: RuleContext) -> tuple[EinsumCall, EquationSyntaxError | tuple[Equation, list[Problem]]] | None:
    call = einsum_call(node, context)
    if call is None or call.equation is None:
        return None
    try:
        equation = parse_equation(call.equation.value)
    except EquationSyntaxError as error:
        return call, error
    facts = tuple(_facts(operand, context) for operand in call.operands) if call.operands is not None else ()
    count = len(call.operands) if call.operands is not None else None
    return call, (equation, check_equation(equation, count, facts))


def _facts(operand: cst.BaseExpression, context: RuleContext) -> OperandFacts:
    evidence = context.operand_evidence(operand)
    # A report may rest on what an annotation claims: then the annotation or the call is wrong.
    rank = evidence.rank if evidence.rank is not None else evidence.claimed_rank
    return OperandFacts(rank=rank, shape=evidence.shape)
