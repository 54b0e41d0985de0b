from __future__ import annotations

import libcst as cst

from einlint.diagnostics import Applicability
from einlint.rules.base import Example, FixProposal, Rule, Triggers
from einlint.rules.einsum_calls import einsum_call
from einlint.rules.layout._folding import fold_fix, folded_equation, parsed, returns_fresh_tensor
from einlint.rules.layout._views import copied_view

MATMUL_FUNCTIONS = frozenset({"torch.matmul", "torch.bmm", "torch.mm"})


class CopyBeforeContraction(Rule):
    """A ``.contiguous()`` or ``.clone()`` copy of a transposed view that only feeds einsum or matmul.

    What it flags: ``torch.einsum('bqd,bkd->bqk', q, k.transpose(1, 2).contiguous())``,
    ``torch.matmul(a, b.transpose(-1, -2).contiguous())``, ``a @ b.mT.clone()``.

    Why it matters: the copy materialises the transposed layout, and einsum and matmul do not need
    it: both accept strided inputs (matmul passes a transpose flag to BLAS, einsum plans its own
    permutation). Measured on CPU with torch 2.13, the copy before einsum cost 5-22% and the one before
    matmul about 15%; ``einlint --verify`` measures it on your shapes.

    Fix: before einsum, drop the copy and fold the view into the labels (as EIN201); before matmul,
    drop the copy.

    Fix safety: safe. The copy is used only as this argument (it is written inline; a copy passed as
    matmul's ``out=`` buffer is where the result goes, and is left alone), and the result is a freshly
    computed tensor in both versions (einsum with two or more operands or a summed label, matmul
    always), so dropping the copy changes neither values nor aliasing. An einsum that could
    return a view of its single input is left alone. Before einsum the fold needs the receiver to be a
    tensor: ``.contiguous()`` is a tensor method, so it is. A copy whose line carries a comment naming
    it (``# contiguous() works around ...``) is left alone: the comment documents a reason.
    """

    code = "EIN202"
    name = "copy-before-contraction"
    triggers = Triggers(names=frozenset({"einsum", "matmul", "bmm", "mm"}), matmul_operator=True)
    invalid = (
        Example(
            "y = torch.einsum('bqd,bkd->bqk', q, k.transpose(1, 2).contiguous())",
            fixed="y = torch.einsum('bqd,bdk->bqk', q, k)",
        ),
        Example(
            "y = torch.matmul(a, b.transpose(-1, -2).contiguous())",
            fixed="y = torch.matmul(a, b.transpose(-1, -2))",
        ),
    )
    valid = ("y = torch.einsum('ij->ji', x.transpose(0, 1).clone())", "y = torch.matmul(a, b.contiguous())")

    def visit_Call(self, node: cst.Call) -> None:
        call = einsum_call(node, self.context)
        if call is not None:
            self._einsum(call)
            return
        qualified = self.context.qualified_name(node.func)
        if qualified in MATMUL_FUNCTIONS:
            for operand in _operands(node):
                self._matmul_operand(operand)
        elif qualified is None and isinstance(node.func, cst.Attribute) and node.func.attr.value in ("matmul", "bmm", "mm"):
            self._matmul_operand(node.func.value)
            for operand in _operands(node):
                self._matmul_operand(operand)

    def visit_BinaryOperation(self, node: cst.BinaryOperation) -> None:
        if isinstance(node.operator, cst.MatrixMultiply):
            self._matmul_operand(node.left)
            self._matmul_operand(node.right)

    def _matmul_operand(self, operand: cst.BaseExpression) -> None:
        found = copied_view(operand, self.context)
        if found is None:
            return
        method, view = found
        if self._copy_is_explained(operand, method):
            return
        fix = FixProposal(operand, self.context.unit.code_for(view.node), Applicability.SAFE)
        self.report(operand, f"the .{method}() copy of a transposed view before matmul is not needed; pass the view", fix)

    def _copy_is_explained(self, operand: cst.BaseExpression, method: str) -> bool:
        """A comment on the copy's lines that names it (``# contiguous() works around a jit bug``)
        documents a reason einlint cannot see: such a copy is left alone."""
        start, end = self.context.unit.span(operand)
        source = self.context.unit.source
        first, last = source.line_of(start), source.line_of(max(start, end - 1))
        for line in range(first, last + 1):
            text = source.line_text(line)
            comment = text[text.find("#") :] if "#" in text else ""
            if method in comment:
                return True
        return False

    def _einsum(self, call) -> None:
        equation = parsed(call)
        if equation is None:
            return
        for position, operand in enumerate(call.operands):
            found = copied_view(operand, self.context)
            if found is None:
                continue
            method, view = found
            if not returns_fresh_tensor(equation, len(call.operands)) or self._copy_is_explained(operand, method):
                continue
            new_equation = folded_equation(call, equation, position, view)
            if new_equation is None:
                continue
            fix = fold_fix(call, new_equation, operand, self.context.unit.code_for(view.receiver), True)
            self.report(
                operand,
                f"the .{method}() copy of a transposed view before einsum is not needed; fold the view into the labels: '{new_equation}'",
                fix,
            )


def _operands(node: cst.Call) -> list[cst.BaseExpression]:
    # ``out=`` is where the product is written, not a factor: a copy there keeps the view's base unwritten.
    return [arg.value for arg in node.args if arg.keyword is None or arg.keyword.value != "out"]
