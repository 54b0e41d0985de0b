from __future__ import annotations

import libcst as cst

from einlint.equation.model import ELLIPSIS, EquationSyntaxError, Term, parse_equation
from einlint.rewrite.classify import ChainKind
from einlint.rules.base import Example, FixProposal, Rule
from einlint.rules.einsum_calls import einsum_call
from einlint.rules.equation._checked import EINSUM_TRIGGERS


class EinsumToMatmul(Rule):
    """A two-operand einsum that is exactly a (batched) matrix product. Opt-in; the reverse of EIN104.

    What it flags: ``torch.einsum('bhqd,bhkd->bhqk', q, k)``, ``torch.einsum('...ij,...jk->...ik', a,
    b)`` - equations whose operands share their leading (batch) labels in order, contract one label
    and keep one label each, in matmul's order.

    Why it matters: speed on small tensors. einsum parses the equation and plans permutations on every
    call; for small attention-sized tensors that fixed overhead made it 1.3-5x slower than the
    equivalent matmul on CPU (torch 2.13), while on large tensors the two run the same kernel. Use it
    where profiling shows einsum overhead; ``einlint --verify`` measures both forms on your shapes.
    Enable with ``--select EIN121``. EIN104 rewrites in the opposite direction: with both enabled
    EIN121 stays silent; with EIN101 enabled it leaves alone an einsum whose matmul form would
    transpose both operands (EIN101 would flag that form).

    Fix: ``torch.matmul(a, b)`` with ``.transpose(-2, -1)`` on an operand whose matrix labels are in
    the other order.

    Fix safety: safe. einsum only accepts tensors; explicit labels make einsum require exact ranks,
    and wherever einsum succeeds matmul computes the same batched product (size-1 batch dimensions
    broadcast in both; ``...`` broadcasts as matmul's batch dimensions do). matmul's result is always
    contiguous while einsum's is not when batch dimensions broadcast, so a later ``.view()`` can only
    start working, never stop.
    """

    code = "EIN121"
    name = "einsum-to-matmul"
    triggers = EINSUM_TRIGGERS
    enabled_by_default = False
    invalid = (
        Example(
            "y = torch.einsum('bhqd,bhkd->bhqk', q, k)",
            fixed="y = torch.matmul(q, k.transpose(-2, -1))",
        ),
        Example("y = torch.einsum('...ij,...jk->...ik', a, b)", fixed="y = torch.matmul(a, b)"),
    )
    valid = ("y = torch.einsum('bhqd,bhkd->bhkq', q, k)", "y = torch.einsum('ij,ij->i', a, b)", "y = torch.einsum('i,i->', a, b)")

    def visit_Call(self, node: cst.Call) -> None:
        enabled_kinds = self.context.analysis.enabled_chain_kinds
        if ChainKind.TRANSPOSE_IDIOM in enabled_kinds:
            return
        call = einsum_call(node, self.context)
        if call is None or call.equation is None or call.operands is None or len(call.operands) != 2:
            return
        try:
            equation = parse_equation(call.equation.value)
        except EquationSyntaxError:
            return
        plan = _matmul_plan(equation.inputs[0], equation.inputs[1], equation.effective_output()) if len(equation.inputs) == 2 else None
        if plan is None:
            return
        transpose_first, transpose_second = plan
        if transpose_first and transpose_second and ChainKind.TRANSPOSED_OPERAND in enabled_kinds:
            return
        unit = self.context.unit
        first, second = (unit.code_for(operand) for operand in call.operands)
        first = _transposed(first, call.operands[0]) if transpose_first else first
        second = _transposed(second, call.operands[1]) if transpose_second else second
        torch_alias = self.context.module_alias("torch", node)
        matmul = f"{torch_alias}.matmul" if torch_alias else None
        fix = FixProposal(node, f"{matmul}({first}, {second})") if matmul else None
        self.report(node, "this einsum is a batched matmul; torch.matmul avoids einsum's per-call overhead (measure with --verify)", fix)


def _transposed(code: str, node: cst.BaseExpression) -> str:
    simple = isinstance(node, (cst.Name, cst.Attribute, cst.Call, cst.Subscript))
    return f"{code if simple else f'({code})'}.transpose(-2, -1)"


def _matmul_plan(first: Term, second: Term, output: Term) -> tuple[bool, bool] | None:
    """(transpose first, transpose second) when ``first,second->output`` is a batched matmul."""
    terms = (first, second, output)
    if any(term.ellipsis_count > 1 for term in terms):
        return None
    if len({term.ellipsis_count for term in terms}) != 1:
        return None
    if any(term.ellipsis_count and term.labels[0] != ELLIPSIS for term in terms):
        return None  # ellipsis not leading: batch dimensions would not line up with matmul's
    a, b, out = (list(term.letters) for term in terms)
    if len(set(a)) != len(a) or len(set(b)) != len(b) or len(a) < 2 or len(b) < 2 or len(a) != len(b):
        return None
    batch = a[:-2]
    if b[:-2] != batch or out[:-2] != batch or len(out) != len(a):
        return None
    a_matrix, b_matrix, out_matrix = a[-2:], b[-2:], out[-2:]
    shared = set(a_matrix) & set(b_matrix)
    if len(shared) != 1:
        return None
    (contracted,) = shared
    row = next(label for label in a_matrix if label != contracted)
    column = next(label for label in b_matrix if label != contracted)
    if out_matrix != [row, column] or row == column:
        return None
    return a_matrix != [row, contracted], b_matrix != [contracted, column]
