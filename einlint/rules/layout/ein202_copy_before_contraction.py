from __future__ import annotations

import ast
from dataclasses import replace

import libcst as cst

from einlint.diagnostics import Applicability, Edit
from einlint.evidence.operands import dotted_name
from einlint.evidence.snapshots import NO_INPLACE_AFTER_COPY, CopyDrop, bound_copy, copy_drop, statements_between
from einlint.rules.base import Binding, Example, FixProposal, Rule, SoundnessFamily, Triggers, VerificationTarget
from einlint.rules.einsum_calls import einsum_call
from einlint.evidence.foreign_attributes import another_class
from einlint.rules.layout._folding import fold_fix, folded_equation, parsed, returns_fresh_tensor
from einlint.rules.layout._views import COPY_METHODS, copied_view, reordering_view

MATMUL_FUNCTIONS = frozenset({"torch.matmul", "torch.bmm", "torch.mm"})


class CopyBeforeContraction(Rule):
    """A ``.contiguous()`` or ``.clone()`` copy of a transposed view that only feeds einsum or matmul.

    What it flags: ``torch.einsum('bqd,bkd->bqk', q, k.transpose(1, 2).contiguous())``,
    ``torch.matmul(a, b.transpose(-1, -2).contiguous())``, ``a @ b.mT.clone()``; and such a copy bound
    to a local that only one contraction reads (``wt = w.t().contiguous()`` then ``x @ wt``, or ``kt =
    k.transpose(1, 2).contiguous()`` then ``torch.einsum(..., kt)``).

    Why it matters: the copy materialises the transposed layout, and einsum and matmul do not need
    it: both accept strided inputs (matmul passes a transpose flag to BLAS, einsum plans its own
    permutation). Measured on CPU with torch 2.13, the copy before einsum cost 5-22% and the one before
    matmul about 15%; ``einlint --verify`` measures it on your shapes.

    Fix: before einsum, drop the copy and fold the view into the labels (as EIN201); before matmul,
    drop the copy. A bound copy is dropped from its binding, which then binds the view.

    Fix safety: the copy is used only as this argument (it is written inline; a copy passed as
    matmul's ``out=`` buffer is where the result goes, and is left alone), and the result is a freshly
    computed tensor in both versions (einsum with two or more operands or a summed label, matmul
    always), so dropping the copy changes neither the result's values nor its aliasing. An einsum
    that could return a view of its single input is left alone. Before einsum the fold needs the
    receiver to be a tensor: ``.contiguous()`` is a tensor method, so it is. A copy whose line carries
    a comment naming it (``# contiguous() works around ...``) is left alone: the comment documents a
    reason. A bound copy is reported only where the local is bound once (a plain assignment before
    the contraction, never ``global``/``nonlocal``), read nowhere else, and every loop around the
    contraction also runs the binding (a copy made once and read on every iteration pays for itself);
    everything evaluated between the binding and the contraction counts as an operand evaluated after
    the copy.

    But the copy is a snapshot of its source, and the contraction then reads the source itself:
    matmul and einsum save their operands for backward, so an in-place change of the source after
    the contraction (under ``no_grad`` too) makes backward raise where it did not, or, through
    ``.data``, silently changes the gradient; an operand evaluated after the copy that changes the
    source in place changes the product; ``out=`` aliasing the source makes the product read what it
    writes. So nothing is reported where the code may change the source: an operand after the copy
    that calls anything but views and copies, or, from the contraction on (and anywhere in a loop
    around it), an in-place method, ``.data``, ``.numpy()``, ``out=``/``inplace=``, an augmented assignment or an item
    or attribute store on the source or a name that may share its storage (an alias, a view, a
    container or object holding it), a call of an unknown function that receives one, or a nested
    function or lambda that can reach one. The fix is safe when the source is a local bound once to a
    tensor a torch factory allocates (no ``out=``, no ``layout=``) and read only by this copy.
    Otherwise a caller may still hold the source (a parameter, an attribute): the fix is unsafe and assumes ``no-inplace-after-copy``
    (nothing changes the source in place while the result or its autograd graph is alive); when that
    fails, backward raises, except for a change through ``.data`` or ``.numpy()``. Unless the source
    is a plain tensor made in the same scope, the fix also assumes ``tensor-operands``: a tensor
    subclass that overrides torch functions would no longer see the copy.
    """

    code = "EIN202"
    name = "copy-before-contraction"
    soundness = {
        SoundnessFamily.NAMES: (
            "``einsum``, ``matmul``, ``bmm`` and ``mm`` are read as torch's only where they resolve to "
            "torch (a method such as ``x.mm(y)`` on any receiver); the fix writes no name."
        ),
        SoundnessFamily.ANNOTATIONS: (
            "unless the source is a plain tensor made in the same scope, the fix names ``tensor-operands``: a "
            "``__torch_function__`` subclass would no longer see the copy (silent where it fails); "
            "an operand the same scope uses with an attribute torch.Tensor lacks (``K.add_jitter()``, "
            "``K.root_decomposition()``, ``hasattr(K, 'evaluate')``; the list is ``dir(torch.Tensor)``) is "
            "another class (a structured matrix): no fix at all, and the message says why."
        ),
        SoundnessFamily.RESULT_LAYOUT: (
            "before matmul the product is a fresh tensor with the same strides either way (checked against "
            "torch on 2,000 random shapes); before einsum, whose output strides can follow its operands' (they "
            "changed in about one in seven random two-operand equations), the fix names ``result-layout``."
        ),
        SoundnessFamily.SNAPSHOTS: (
            "nothing is reported where the code may change the source in place (a later operand that calls "
            "anything but views and copies; from the contraction on, or anywhere in a loop around it, an "
            "in-place method, ``.data``, ``.numpy()``, ``out=``/``inplace=``, an augmented assignment or a "
            "store on the source or on a name that may share its storage, an unknown call or a closure that "
            "can reach one); the fix is safe only for a local bound once to a tensor a torch factory allocates "
            "(no ``out=`` buffer, no ``layout=``) and read only by this copy, and otherwise names ``no-inplace-after-copy``, where a failure makes "
            "backward raise, except through ``.data`` or ``.numpy()`` (silent)."
        ),
        SoundnessFamily.STRICTNESS: ("dropping the copy changes no size or rank, and before einsum the fold keeps explicit labels as EIN201's does."),
        SoundnessFamily.FIXPOINTS: (
            "fixes of nested calls overlap and are applied over the fixer's rounds, which repeat until no "
            "fix is left (up to 100: only a nesting deeper than that leaves work for a second ``--fix``)."
        ),
    }
    triggers = Triggers(names=frozenset({"einsum", "matmul", "bmm", "mm"}), matmul_operator=True)
    invalid = (
        Example(
            "y = torch.einsum('bqd,bkd->bqk', q, k.transpose(1, 2).contiguous())",
            fixed="y = torch.einsum('bqd,bdk->bqk', q, k)",
            unsafe=True,
        ),
        Example(
            "y = torch.matmul(a, b.transpose(-1, -2).contiguous())",
            fixed="y = torch.matmul(a, b.transpose(-1, -2))",
            unsafe=True,
        ),
    )
    valid = (
        "y = torch.einsum('ij->ji', x.transpose(0, 1).clone())",
        "y = torch.matmul(a, b.contiguous())",
        "y = torch.matmul(a, w.transpose(0, 1).contiguous())\nw.mul_(2)",
    )

    def visit_Call(self, node: cst.Call) -> None:
        call = einsum_call(node, self.context)
        if call is not None:
            self._einsum(call)
            return
        qualified = self.context.qualified_name(node.func)
        if qualified in MATMUL_FUNCTIONS:
            arguments = [arg.value for arg in node.args]
            for operand in _operands(node):
                self._matmul_operand(operand, _after(arguments, operand), node, tuple(arguments))
        elif qualified is None and isinstance(node.func, cst.Attribute) and node.func.attr.value in ("matmul", "bmm", "mm"):
            arguments = [node.func.value, *(arg.value for arg in node.args)]
            for operand in (node.func.value, *_operands(node)):
                self._matmul_operand(operand, _after(arguments, operand), node, tuple(arguments))

    def visit_BinaryOperation(self, node: cst.BinaryOperation) -> None:
        if isinstance(node.operator, cst.MatrixMultiply):
            self._matmul_operand(node.left, [node.right], node, (node.left, node.right))
            self._matmul_operand(node.right, [], node, (node.left, node.right))

    def _matmul_operand(
        self, operand: cst.BaseExpression, evaluated_after: list[cst.BaseExpression], product: cst.BaseExpression,
        operands: tuple[cst.BaseExpression, ...],
    ) -> None:  # fmt: skip
        """``operand`` of the matrix product ``product`` (a call or ``@``), whose operands are ``operands``."""
        if isinstance(operand, cst.Name):
            self._bound(operand, "matmul", allow_t=True, contraction_node=product, operands=operands)
            return
        found = copied_view(operand, self.context)
        if found is None:
            return
        method, view = found
        if self._copy_is_explained(operand, method):
            return
        verdict = self._drop(view.receiver, evaluated_after)
        if verdict is None or verdict.keep is not None:
            return
        target = VerificationTarget("the matrix product that consumes the removed copy", product, operands)
        fix = FixProposal(operand, self.context.unit.code_for(view.node), Applicability.SAFE, target=target)
        message = f"the .{method}() copy of a transposed view before matmul is not needed; pass the view"
        self._report_drop(operand, view.receiver, message, fix, verdict)

    def _bound(
        self, operand: cst.Name, contraction: str, allow_t: bool, contraction_node: cst.BaseExpression,
        operands: tuple[cst.BaseExpression, ...], equation: str = "",
    ) -> None:  # fmt: skip
        """``kt = k.transpose(1, 2).contiguous()`` and later ``q @ kt``, ``kt`` read nowhere else: the
        copy goes from the binding, which then binds the view. Verified as the contraction with the
        binding's value in place of ``kt``, before and after."""
        context = self.context
        function = context.enclosing_function()
        candidate = context.unit.candidate
        if function is None or not candidate.is_statement:
            return
        facts = context.analysis.facts_for(function)
        use = candidate.node
        loops = context.enclosing_loops()
        binding = bound_copy(function, facts, operand.value, use, loops)
        if binding is None:
            return
        source = context.unit.source
        value = binding.value
        if not (isinstance(value, ast.Call) and isinstance(value.func, ast.Attribute) and not value.args and not value.keywords):
            return
        method = value.func.attr
        if method not in COPY_METHODS:
            return
        view_ast = value.func.value
        start = source.offset(value.lineno, source.char_col(value.lineno, value.col_offset))
        view_end = source.offset(view_ast.end_lineno or view_ast.lineno, source.char_col(view_ast.end_lineno or view_ast.lineno, view_ast.end_col_offset or 0))
        end = source.offset(value.end_lineno or value.lineno, source.char_col(value.end_lineno or value.lineno, value.end_col_offset or 0))
        try:
            view_node = cst.parse_expression(source.text[start:view_end])
        except cst.ParserSyntaxError:
            return
        if not isinstance(view_ast, ast.Call | ast.Attribute):
            return
        if reordering_view(view_node, context) is None and not (allow_t and _is_method_t(view_node, context)):
            return
        receiver_ast = view_ast.func.value if isinstance(view_ast, ast.Call) and isinstance(view_ast.func, ast.Attribute) else None
        if isinstance(view_ast, ast.Attribute):
            receiver_ast = view_ast.value  # .T, .mT
        elif isinstance(view_ast.func, ast.Attribute) and context.imports.qualify(dotted_name(view_ast.func) or "") is not None:
            receiver_ast = view_ast.args[0] if view_ast.args else None  # torch.transpose(k, 1, 2)
        if receiver_ast is None or _explained(source, binding, method):
            return
        imports = context.imports

        def qualify(node: ast.expr) -> str | None:
            dotted = dotted_name(node)
            return imports.qualify(dotted) if dotted is not None else None

        verdict = copy_drop(function, facts, binding, loops, receiver_ast, statements_between(function, binding, use), qualify)
        if verdict.keep is not None:
            return
        shown = _short(" ".join((ast.get_source_segment(source.text, receiver_ast) or "").split()))
        receiver_node = cst.parse_expression(shown) if shown.isidentifier() else None
        evidence = context.operand_evidence(receiver_node) if receiver_node is not None else None
        is_tensor = evidence is not None and evidence.is_tensor
        read = Binding(operand.value, source.text[start:end], source.text[start:view_end])
        what = f"the {'einsum call' if contraction == 'einsum' else 'matrix product'} that reads {operand.value} without its copy"
        target = VerificationTarget(what, contraction_node, operands, equation, (read,))
        fix = FixProposal(operand, operand.value, Applicability.SAFE, extra_edits=(Edit(view_end, end, ""),), target=target)
        message = (
            f"{operand.value} is a .{method}() copy of a transposed view (line {binding.lineno}) that only this {contraction} reads: bind the view instead"
        )
        foreign = (evidence.foreign_owner, evidence.foreign_attributes) if evidence is not None and evidence.foreign_attributes else None
        self._report(operand, shown, is_tensor, message, fix, verdict, layout_may_change=contraction == "einsum", foreign=foreign)

    def _drop(self, receiver: cst.BaseExpression, evaluated_after: list[cst.BaseExpression]) -> CopyDrop | None:
        """Whether the copy of ``receiver`` may go (see evidence.snapshots); None when the code
        around it cannot be read."""
        context = self.context
        candidate = context.unit.candidate
        statement = candidate.node if candidate.is_statement else candidate.ancestors[-1]
        source = context.as_ast(receiver)
        after = [context.as_ast(expression) for expression in evaluated_after]
        if source is None or any(expression is None for expression in after):
            return None
        function = context.enclosing_function()
        scope = function if function is not None else context.analysis.tree
        facts = context.analysis.facts_for(function) if function is not None else None
        imports = context.imports

        def qualify(node: ast.expr) -> str | None:
            dotted = dotted_name(node)
            return imports.qualify(dotted) if dotted is not None else None

        return copy_drop(scope, facts, statement, context.enclosing_loops(), source, after, qualify)

    def _report_drop(
        self, operand: cst.BaseExpression, source: cst.BaseExpression, message: str, fix: FixProposal, verdict: CopyDrop,
        layout_may_change: bool = False,
    ) -> None:  # fmt: skip
        shown = _short(self.context.unit.written(source))
        evidence = self.context.operand_evidence(source)
        foreign = (evidence.foreign_owner, evidence.foreign_attributes) if evidence.foreign_attributes else None
        self._report(operand, shown, evidence.is_tensor, message, fix, verdict, layout_may_change, foreign)

    def _report(
        self, operand: cst.BaseExpression, shown: str, is_tensor: bool, message: str, fix: FixProposal, verdict: CopyDrop,
        layout_may_change: bool = False, foreign: tuple[str, tuple[str, ...]] | None = None,
    ) -> None:  # fmt: skip
        if foreign is not None:
            # The code uses the source as another class than a tensor (foreign: its name, the attributes).
            self.report(operand, f"{message} [no fix: {another_class(*foreign)}]")
            return
        assumed: dict[str, str] = {}
        if layout_may_change:
            # einsum's output strides can follow its operands': without the copy the result may be laid
            # out differently (about one two-operand equation in seven, measured against torch).
            assumed["result-layout"] = "nothing that receives the result depends on its strides"
        if not is_tensor:
            # A tensor subclass that overrides torch functions would no longer see the copy.
            assumed["tensor-operands"] = f"{shown} is a plain torch tensor"
        if not verdict.private:
            assumed[NO_INPLACE_AFTER_COPY] = f"nothing changes {shown} in place while the result or its autograd graph is alive"
        if assumed:
            fix = replace(fix, applicability=Applicability.UNSAFE, assumptions=tuple(dict.fromkeys((*fix.assumptions, *assumed))))
            message += f" [unsafe fix: assumes {'; '.join(assumed.values())}]"
        self.report(operand, message, fix)

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
            if isinstance(operand, cst.Name) and returns_fresh_tensor(equation, len(call.operands)):
                self._bound(
                    operand, "einsum", allow_t=False, contraction_node=call.call, operands=call.operands, equation=call.equation.value if call.equation else ""
                )
                continue
            found = copied_view(operand, self.context)
            if found is None:
                continue
            method, view = found
            if not returns_fresh_tensor(equation, len(call.operands)) or self._copy_is_explained(operand, method):
                continue
            new_equation = folded_equation(call, equation, position, view)
            if new_equation is None:
                continue
            verdict = self._drop(view.receiver, list(call.operands[position + 1 :]))
            if verdict is None or verdict.keep is not None:
                continue
            fix = fold_fix(call, new_equation, operand, self.context.unit.code_for(view.receiver), True, "the einsum call that consumes the removed copy")
            message = f"the .{method}() copy of a transposed view before einsum is not needed; fold the view into the labels: '{new_equation}'"
            self._report_drop(operand, view.receiver, message, fix, verdict, layout_may_change=True)


def _operands(node: cst.Call) -> list[cst.BaseExpression]:
    # ``out=`` is where the product is written, not a factor: a copy there keeps the view's base unwritten.
    return [arg.value for arg in node.args if arg.keyword is None or arg.keyword.value != "out"]


def _after(arguments: list[cst.BaseExpression], operand: cst.BaseExpression) -> list[cst.BaseExpression]:
    """The arguments Python evaluates after ``operand``."""
    position = next(index for index, argument in enumerate(arguments) if argument is operand)
    return arguments[position + 1 :]


def _is_method_t(node: cst.BaseExpression, context) -> bool:
    """``w.t()``: the 2-D transpose method (not a function of that name)."""
    return (
        isinstance(node, cst.Call)
        and not node.args
        and isinstance(node.func, cst.Attribute)
        and node.func.attr.value == "t"
        and context.qualified_name(node.func) is None
    )


def _explained(source, binding: ast.stmt, method: str) -> bool:
    """A comment on the binding's lines that names the copy documents a reason: left alone."""
    for line in range(binding.lineno, (binding.end_lineno or binding.lineno) + 1):
        text = source.line_text(line)
        if "#" in text and method in text[text.find("#") :]:
            return True
    return False


def _short(code: str, limit: int = 40) -> str:
    flat = " ".join(code.split())
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."
