from __future__ import annotations

from einlint.observe.einsum_calls import EinsumCall
from einlint.observe.observations import SiteObservation
from einlint.reporters.text import duration
from einlint.rules.base import Example, Rule, Triggers

# Executions at one set of shapes from which a repeated path search is worth a finding.
MIN_REPEATS = 10
# torch.einsum contracts two operands directly; from three on it searches for a contraction order.
MIN_OPERANDS = 3


class EinsumPathSearchedRepeatedly(Rule):
    """A ``torch.einsum`` of three or more operands that ``einlint observe`` saw run many times at the same shapes.

    What it flags: a ``torch.einsum`` call with three or more operands, each read by name, that ran
    at least 10 times while ``einlint observe`` recorded, every time with the same shape of every
    operand (a model's ``forward`` called once per step, a loop in the caller). It never fires from the
    code alone: only where the observations file holds the call's statement; where EIN301 already
    reports the same statement (an einsum in a loop the code shows), it stays silent.

    Why it matters: for three or more operands torch picks a contraction order on every call (with
    opt_einsum installed, by searching for one), although the shapes, and so the best order, never
    changed. The message gives the executions, the shapes and the time the statement took in all.

    Fix: none applied. Compute the order once: ``expr = opt_einsum.contract_expression(equation,
    *shapes)`` where the shapes are known, then ``expr(*operands)`` per call; or contract in a fixed
    order by hand (two-operand einsums or matmuls).

    Fix safety: report-only.
    """

    code = "EIN391"
    name = "einsum-path-searched-repeatedly"
    triggers = Triggers(names=frozenset({"einsum"}))
    observed_only = True
    silent_beside = frozenset({"EIN301"})
    invalid = (Example("def contract(a, b, c):\n    return torch.einsum('ij,jk,kl->il', a, b, c)"),)
    valid = ("def contract(a, b):\n    return torch.einsum('ij,jk->ik', a, b)",)

    @classmethod
    def observed_findings(cls, call: EinsumCall, site: SiteObservation) -> tuple[str, ...]:
        if len(call.operands) < MIN_OPERANDS or site.executions < MIN_REPEATS:
            return ()
        shapes = []
        for operand in call.operands:
            facts = site.operands.get(operand.text)
            if facts is None or facts.reads < site.executions or len(facts.shapes) != 1 or facts.shapes_truncated:
                return ()
            shapes.append("x".join(str(size) for size in facts.shapes[0]) or "()")
        per_call = site.seconds / site.executions
        return (
            f"torch.einsum with {len(call.operands)} operands ran {site.executions} times at the same shapes ({', '.join(shapes)}), choosing its "
            f"contraction order on each call (a search, with opt_einsum installed; {duration(per_call)} per call); compute the order once",
        )
