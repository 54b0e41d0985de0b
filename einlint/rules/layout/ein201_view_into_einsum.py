from __future__ import annotations

import ast
from collections.abc import Sequence

import libcst as cst

from einlint.evidence.imports import dotted_name
from einlint.evidence.snapshots import changed_before_read

from einlint.evidence.foreign_attributes import another_class
from einlint.rules.base import Example
from einlint.rules.einsum_calls import einsum_call
from einlint.rules.equation._checked import EINSUM_TRIGGERS
from einlint.rules.layout._folding import fold_fix, folded_equation, parsed
from einlint.rules.layout._views import reordering_view
from einlint.rules.base import Rule, SoundnessFamily


class ViewIntoEinsum(Rule):
    """A transposed or permuted view passed straight to ``torch.einsum``.

    What it flags: ``torch.einsum('bqd,bkd->bqk', q, k.transpose(1, 2))`` and the same with
    ``permute``, ``swapaxes``/``swapdims``, ``movedim``, ``.mT`` and (2-D) ``.T``.

    Why it matters: the view only renames dimensions, which is what einsum labels are for. Folding it
    into the equation reads as one statement of the contraction, and einsum then plans its own
    permutation; measured on CPU with torch 2.13 the folded call gave bit-identical results in equal
    or less time. (Run ``einlint --verify`` to measure it on your shapes.)

    Fix: relabel that operand's term and pass the view's receiver: ``torch.einsum('bqd,bdk->bqk', q,
    k)``.

    Fix safety: the operand's term fixes its rank (explicit labels), and the reordering is applied to
    the labels exactly as torch applies it to dimensions (negative dims count from the end; with an
    ellipsis only dimensions the term pins are accepted). Safe when the view's receiver is a plain tensor
    made in the same scope (a torch factory); otherwise unsafe with assumption ``tensor-operands``: a
    tensor subclass that overrides torch functions (``__torch_function__``) would see one einsum call
    instead of the view and then einsum. A receiver the same scope uses with an attribute a torch
    tensor lacks (``k.evaluate()``, ``k.add_jitter()``) is another class: reported without a fix.
    The view is taken before the later operands run and the receiver would be read after them: where
    one of them may change tensors in place (``torch.einsum(eq, x.T, x.t_())``, a call of unknown
    code), the view stays and the finding has no fix.
    """

    code = "EIN201"
    name = "view-into-einsum"
    soundness = {
        SoundnessFamily.NAMES: (
            "the call is changed only where ``einsum`` resolves to torch's in this scope, and a "
            "function-form view (``torch.transpose(x, ...)``) is read only where it resolves to torch; "
            "the fix writes no new name, only the equation and the view's receiver."
        ),
        SoundnessFamily.ANNOTATIONS: (
            "safe only where a torch factory in the same scope makes the view's receiver; otherwise "
            "``tensor-operands`` is named (silent where it fails: a ``__torch_function__`` subclass sees "
            "one einsum instead of the view and the einsum); "
            "an operand the same scope uses with an attribute torch.Tensor lacks (``K.add_jitter()``, "
            "``K.root_decomposition()``, ``hasattr(K, 'evaluate')``; the list is ``dir(torch.Tensor)``) is "
            "another class (a structured matrix): no fix at all, and the message says why."
        ),
        SoundnessFamily.SNAPSHOTS: (
            "the view fixes the receiver's shape and strides when it is evaluated, the receiver passed in "
            "its place is read after the later operands: no fix where one of them may change a tensor in "
            "place (an in-place method such as ``x.t_()``, a call of unknown code)."
        ),
        SoundnessFamily.RESULT_LAYOUT: (
            "einsum permutes the receiver under the new labels into the same strided operand it made of "
            "the view, so the result's strides and aliasing are unchanged (checked against torch on 3,000 "
            "random two-operand equations)."
        ),
        SoundnessFamily.STRICTNESS: (
            "the term keeps explicit labels, so a receiver of another rank still makes einsum raise; a "
            "view dimension outside the term's range, where the view itself raises, is not folded, and no "
            "label's size changes."
        ),
        SoundnessFamily.FIXPOINTS: (
            "fixes of nested calls overlap and are applied over the fixer's rounds, which repeat until no "
            "fix is left (up to 100: only a nesting deeper than that leaves work for a second ``--fix``)."
        ),
    }
    triggers = EINSUM_TRIGGERS
    invalid = (
        Example(
            "k = torch.randn(2, 5, 4)\ny = torch.einsum('bqd,bdk->bqk', q, k.permute(0, 2, 1))",
            fixed="k = torch.randn(2, 5, 4)\ny = torch.einsum('bqd,bkd->bqk', q, k)",
        ),
        Example("y = torch.einsum('ij,jk->ik', a.T, b)", fixed="y = torch.einsum('ji,jk->ik', a, b)", unsafe=True),
    )
    valid = ("y = torch.einsum('ij,jk->ik', a, b)", "y = torch.einsum('...ij,jk->...ik', a.transpose(0, 1), b)")

    def visit_Call(self, node: cst.Call) -> None:
        call = einsum_call(node, self.context)
        if call is None:
            return
        equation = parsed(call)
        if equation is None:
            return
        assert call.operands is not None
        for position, operand in enumerate(call.operands):
            view = reordering_view(operand, self.context)
            if view is None:
                continue
            new_equation = folded_equation(call, equation, position, view)
            if new_equation is None:
                continue
            receiver_code = self.context.unit.code_for(view.receiver)
            receiver = self.context.operand_evidence(view.receiver)
            # Only a plain dense tensor made in this scope proves the fold: a tensor subclass that
            # overrides torch functions sees einsum alone instead of the view and then einsum.
            proven = receiver.is_tensor
            message = f"einsum operand is a reordering view; fold it into the labels: '{new_equation}'"
            if receiver.foreign_attributes:
                self.report(operand, f"{message} [no fix: {another_class(receiver.foreign_owner, receiver.foreign_attributes)}]")
                continue
            if self._changed_later(call.operands[position + 1 :]):
                self.report(operand, f"{message} [no fix: an operand evaluated after the view may change its receiver in place first]")
                continue
            fix = fold_fix(call, new_equation, operand, receiver_code, proven, "the einsum call that consumes the folded view")
            self.report(operand, message, fix)

    def _changed_later(self, evaluated_after: Sequence[cst.BaseExpression]) -> bool:
        """The view is taken before the later operands run; the receiver passed in its place is read
        after them, so ``torch.einsum(eq, x.T, x.t_())`` would see ``x`` transposed again."""
        after = [self.context.as_ast(expression) for expression in evaluated_after]
        if any(expression is None for expression in after):
            return True
        imports = self.context.imports

        def qualify(node: ast.expr) -> str | None:
            dotted = dotted_name(node)
            return imports.qualify(dotted) if dotted is not None else None

        return changed_before_read(after, qualify)  # type: ignore[arg-type]
