from __future__ import annotations

import libcst as cst

from einlint.diagnostics import Applicability
from einlint.equation.model import ELLIPSIS, EquationSyntaxError, Term, parse_equation
from einlint.evidence.foreign_attributes import another_class
from einlint.evidence.operands import OperandEvidence
from einlint.rewrite.classify import ChainKind
from einlint.rules.base import Example, FixProposal, Rule, SoundnessFamily
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

    Fix: ``torch.mm(a, b)`` for 2-D labels, ``torch.bmm(a, b)`` for 3-D ones, ``torch.matmul(a, b)``
    otherwise, with ``.transpose(-2, -1)`` on an operand whose matrix labels are in the other order.

    Fix safety: unsafe. Explicit labels make einsum raise on an operand of another rank; ``mm`` and
    ``bmm`` raise on it too, ``matmul`` would broadcast it, so a ``matmul`` fix is offered only where
    the code proves the ranks (no fix otherwise). einsum broadcasts a size-1 dimension of a shared
    label where a matrix product raises (``matching-sizes``, unless literal sizes prove them equal:
    the fix then raises where the einsum computed a value). A tensor subclass that overrides torch
    functions sees matmul instead of einsum (``tensor-operands``, unless factories make the operands).
    matmul's result is contiguous where einsum's may not be (``result-layout``).

    An operand the same function uses with an attribute torch.Tensor lacks (``covar.add_jitter()``,
    ``k.root_decomposition()``), directly or through tensor methods (``covar.view(3, 4)``), is another
    class: reported without a fix.
    """

    code = "EIN121"
    name = "einsum-to-matmul"
    soundness = {
        SoundnessFamily.STALE_FACTS: (
            "the ranks that allow ``matmul`` and the literal sizes that waive ``matching-sizes`` are "
            "facts only for names bound once in the function (a direct shape-changing in-place call or "
            "``x.data =`` counts as a rebinding); not yet handled: such a change through an alias or "
            "inside a helper leaves them stale."
        ),
        SoundnessFamily.NAMES: (
            "the call is read only where ``einsum`` resolves to torch's, and the fix writes ``mm``, "
            "``bmm`` or ``matmul`` only through an alias that is provably the torch module where the line "
            "runs (no fix otherwise)."
        ),
        SoundnessFamily.DTYPE_CONTEXT: (
            "mm, bmm and matmul compute in low precision under autocast as the einsum does (it runs a "
            "batched matrix product), and they raise on mixed dtypes as einsum does: nothing is assumed."
        ),
        SoundnessFamily.ANNOTATIONS: (
            "``tensor-operands`` is named unless torch factories in the same scope make both operands: a "
            "``__torch_function__`` subclass sees a matrix product instead of einsum (silent where it "
            "fails)."
        ),
        SoundnessFamily.RESULT_LAYOUT: (
            "always named (``result-layout``): the matrix product returns a fresh contiguous tensor where "
            "the einsum may have returned a permuted view (silent where it fails)."
        ),
        SoundnessFamily.STRICTNESS: (
            "``mm`` and ``bmm`` (2-D and 3-D labels) raise on a wrong rank as the einsum's explicit "
            "labels do, and ``matmul``, which broadcasts ranks, is used only where the code proves them "
            "(no fix otherwise); a size-1 dimension of a shared label, which einsum broadcasts and a "
            "matrix product rejects, is named ``matching-sizes`` unless literal sizes prove the sizes "
            "equal, and where that fails the fix raises."
        ),
        SoundnessFamily.FIXPOINTS: (
            "it stays silent when EIN104 is enabled, and with EIN101 enabled it leaves alone an einsum "
            "whose matmul form would transpose both operands, so the two directions never undo each "
            "other."
        ),
    }
    triggers = EINSUM_TRIGGERS
    enabled_by_default = False
    invalid = (
        Example(
            "y = torch.einsum('bqd,bkd->bqk', q, k)",
            fixed="y = torch.bmm(q, k.transpose(-2, -1))",
            unsafe=True,
        ),
        Example(
            "a = torch.randn(2, 3, 4, 5)\nb = torch.randn(2, 3, 5, 6)\ny = torch.einsum('...ij,...jk->...ik', a, b)",
            fixed="a = torch.randn(2, 3, 4, 5)\nb = torch.randn(2, 3, 5, 6)\ny = torch.matmul(a, b)",
            unsafe=True,
        ),
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
        evidence = [self.context.operand_evidence(operand) for operand in call.operands]
        function = _strict_function(equation.inputs[0], evidence)
        fix = None
        foreign = next((item for item in evidence if item.foreign_attributes), None)
        if foreign is not None:
            function = None  # the code uses an operand as another class than a tensor: no fix
        if torch_alias and function:
            assumptions = ["result-layout"]
            if not _sizes_proven(equation.inputs[0], equation.inputs[1], evidence):
                assumptions.append("matching-sizes")
            if not all(item.is_tensor for item in evidence):
                assumptions.append("tensor-operands")
            target = call.target("the einsum call replaced by a matrix product", call.equation.value)
            fix = FixProposal(node, f"{torch_alias}.{function}({first}, {second})", Applicability.UNSAFE, tuple(assumptions), target=target)
        message = "this einsum is a batched matmul; torch.matmul avoids einsum's per-call overhead (measure with --verify)"
        if foreign is not None:
            message += f" [no fix: {another_class(foreign.foreign_owner, foreign.foreign_attributes)}]"
        self.report(node, message, fix)


def _strict_function(term: Term, evidence: list[OperandEvidence]) -> str | None:
    """The matrix product that raises wherever the einsum raises for a wrong rank: ``mm`` and ``bmm``
    accept exactly the 2-D and 3-D operands explicit labels demand; ``matmul`` broadcasts any rank, so
    it is used only where the code proves the ranks. None: no rank-strict spelling."""
    if not term.ellipsis_count:
        rank = len(term.letters)
        if rank in (2, 3):
            return "mm" if rank == 2 else "bmm"
        return "matmul" if all(item.rank == rank for item in evidence) else None
    return "matmul" if all(item.rank is not None and item.rank >= 2 for item in evidence) else None


def _sizes_proven(first: Term, second: Term, evidence: list[OperandEvidence]) -> bool:
    """Whether literal sizes the code states make every label the operands share equal in size (einsum
    broadcasts a size-1 one where a matrix product raises)."""
    shapes = [item.shape for item in evidence]
    if first.ellipsis_count or any(shape is None or None in shape for shape in shapes):
        return False
    sizes = [dict(zip(term.letters, shape)) for term, shape in zip((first, second), shapes)]
    return all(sizes[0][label] == sizes[1][label] for label in sizes[0].keys() & sizes[1].keys())


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
