from __future__ import annotations

import ast
import re

import libcst as cst

from einlint.diagnostics import Applicability, Edit
from einlint.engine.context import RuleContext
from einlint.evidence.foreign_attributes import another_class
from einlint.evidence.operands import OperandEvidence
from einlint.rules.base import Binding, Example, FixProposal, Rule, SoundnessFamily, VerificationTarget
from einlint.rules.churn._fresh import fresh_name
from einlint.rules.churn._loops import generates_code, in_forward, in_loop, repeating_loops
from einlint.rules.einsum_calls import einsum_call
from einlint.rules.equation._checked import EINSUM_TRIGGERS
from einlint.rules.rewrite._chain_rule import FULL_REDUCTIONS, LAYOUT_NORMALISING_METHODS


class MultiOperandEinsumInLoop(Rule):
    """``torch.einsum`` with three or more operands in a loop, a comprehension or ``forward``.

    What it flags: ``for x in batches: torch.einsum('ij,jk,kl->il', a, b, x)``, and such a call in a
    module's ``forward`` (which runs every step). What runs once is not flagged: a ``for`` loop's
    iterable and ``else`` clause, a comprehension's first iterable, and a function merely called from a
    loop. Operands are counted only where the call lists them (not ``*operands`` or a list variable).

    Why it matters: with three or more operands torch.einsum asks opt_einsum for a contraction path on
    every call - about 0.11 ms for 3 operands up to 1.2 ms for 6 (CPU, torch 2.13), with no cache -
    while an ``opt_einsum.contract_expression`` built once and reused costs that search once. Two-operand
    calls have a single path and are not flagged.

    Fix: in a ``for``/``while`` loop, a chain of matrix products (``ij,jk,kl->il``) becomes
    ``torch.linalg.multi_dot([a, b, c])``, which orders the products by a cheap size rule instead of a
    path search. Any other equation (no ellipsis, operands that are plain names) gets an
    ``opt_einsum.contract_expression`` built on the first iteration and reused: ``name = None`` before
    the loop, ``if name is None: name = opt_einsum.contract_expression(eq, a.shape, b.shape, x.shape)``
    before the statement, and ``name(a, b, x, backend='torch')`` for the call. That fix is offered only
    in a module that already imports opt_einsum: a fix adds no dependency. In a comprehension or
    ``forward`` nothing is applied: build the expression where the shapes are known. ``einlint
    --verify`` measures the effect.

    Fix safety: multi_dot is offered only where the code proves every operand 2-D: einsum raises on a
    1-D operand where multi_dot treats it as a vector, and a fix must never turn an error into a value.
    It is unsafe unless literal sizes prove each contracted pair equal (``matching-sizes``: einsum
    broadcasts a size-1 label where multi_dot raises) and factories make every operand a plain tensor
    (``tensor-operands``: a subclass would see multi_dot instead of einsum), and unless what consumes
    the result makes a fresh tensor of it (``.contiguous()``, a matrix product, a full reduction):
    multi_dot's result is contiguous where einsum's may not be (``result-layout``; ``.stride()``,
    ``.is_contiguous()`` and a ``.view()`` that raises can tell them apart). The reused expression is
    not offered where the call may not run exactly once per statement (a conditional expression,
    ``and``/``or``, a comprehension, a lambda): the shapes are read before the statement.
    The reused expression is correct for any operand shapes the equation accepts (a wrong rank raises),
    but its contraction order was chosen for the first iteration's shapes (``fixed-shapes-in-loops``).
    Both compute the same sums as einsum, possibly
    in another order, so float results may differ in the last bits. Functions that generate code (fx
    graphs, source text) are not flagged.

    An operand the same function uses with an attribute torch.Tensor lacks (``covar.add_jitter()``,
    ``k.root_decomposition()``), directly or through tensor methods (``covar.view(3, 4)``), is another
    class: reported without a fix.
    """

    code = "EIN301"
    name = "multi-operand-einsum-in-loop"
    soundness = {
        SoundnessFamily.STALE_FACTS: (
            "the 2-D ranks that allow ``multi_dot`` and the literal sizes that waive ``matching-sizes`` "
            "are facts only for names bound once in the function; not yet handled: a shape change through "
            "an alias or inside a helper leaves them stale."
        ),
        SoundnessFamily.NAMES: (
            "``multi_dot`` is written through the file's torch alias only where it is provably the torch "
            "module where the line runs; the reused expression is offered only in a module that already "
            "imports opt_einsum, spelled through that import's alias, and its variable is a name the file "
            "never mentions."
        ),
        SoundnessFamily.DTYPE_CONTEXT: (
            "``multi_dot`` and the expression's torch contractions are matrix products that autocast "
            "lowers as it lowers einsum's (checked under CPU autocast): nothing is assumed."
        ),
        SoundnessFamily.ANNOTATIONS: (
            "``multi_dot`` names ``tensor-operands`` unless factories make every operand (a subclass sees "
            "multi_dot instead of einsum); not yet handled: the reused expression names no such "
            "assumption, though a ``__torch_function__`` subclass then sees opt_einsum's torch calls "
            "instead of einsum."
        ),
        SoundnessFamily.STRICTNESS: (
            "``multi_dot`` only where the code proves every operand 2-D (it accepts a 1-D end operand "
            "where the einsum raises), naming ``matching-sizes`` unless literal sizes prove each "
            "contracted pair equal; the reused expression computes the einsum's sums for the shapes it is "
            "given (a wrong rank raises) in the order chosen for the first iteration "
            "(``fixed-shapes-in-loops``: the same sums, perhaps in a slower order, so float results may "
            "differ in the last bits)."
        ),
        SoundnessFamily.RESULT_LAYOUT: (
            "``multi_dot`` returns a fresh contiguous matrix where einsum may return a permuted one "
            "(``ij,jk,kl->il`` with a 5x8 first operand and 3x4 last): ``result-layout`` is named unless "
            "``.contiguous()``, ``.item()``, ``.tolist()``, a full reduction or a matrix product consumes "
            "the result."
        ),
        SoundnessFamily.HOISTING: (
            "the expression is built inside the loop, on the first iteration (a loop that runs zero times "
            "builds nothing), only where the call runs exactly once per statement and every operand is a "
            "plain local name (an attribute may be a property that runs code on each read, and the "
            "expression reads each operand twice: its shape, then its value); ``multi_dot`` replaces the "
            "call in place, evaluating each operand once, in order."
        ),
    }
    triggers = EINSUM_TRIGGERS
    invalid = (
        Example(
            "def f(xs):\n    a = torch.randn(3, 4)\n    b = torch.randn(4, 5)\n    for x in xs:\n        y = torch.einsum('ij,jk,kl->il', a, b, x.view(5, 6))",
            fixed="def f(xs):\n    a = torch.randn(3, 4)\n    b = torch.randn(4, 5)\n    for x in xs:\n"
            "        y = torch.linalg.multi_dot([a, b, x.view(5, 6)])",
            unsafe=True,
        ),
        Example(
            "import torch\nimport opt_einsum\ndef f(xs, a, w):\n    for x in xs:\n        y = torch.einsum('bi,bj,ij->b', a, x, w)",
            fixed=(
                "import torch\nimport opt_einsum\ndef f(xs, a, w):\n    einsum_bi_bj_ij_to_b = None\n    for x in xs:\n"
                "        if einsum_bi_bj_ij_to_b is None:\n"
                "            einsum_bi_bj_ij_to_b = opt_einsum.contract_expression('bi,bj,ij->b', a.shape, x.shape, w.shape)\n"
                "        y = einsum_bi_bj_ij_to_b(a, x, w, backend='torch')"
            ),
            unsafe=True,
        ),
        Example("def f(xs, a, b):\n    return [torch.einsum('ij,jk,bk->bi', a, b, x) for x in xs]"),
    )
    valid = (
        "def f(xs, a):\n    for x in xs:\n        y = torch.einsum('ij,jk->ik', a, x)",
        "def f(a, b, c):\n    return torch.einsum('ij,jk,kl->il', a, b, c)",
    )

    def __init__(self, context: RuleContext) -> None:
        super().__init__(context)
        # ids of expressions whose layout what consumes them hides (see the chain rules)
        self._layout_hidden: set[int] = set()

    def visit_BinaryOperation(self, node: cst.BinaryOperation) -> None:
        if isinstance(node.operator, cst.MatrixMultiply):
            self._layout_hidden.update((id(node.left), id(node.right)))

    def visit_Call(self, node: cst.Call) -> None:
        func = node.func
        if isinstance(func, cst.Attribute) and (func.attr.value in LAYOUT_NORMALISING_METHODS or (func.attr.value in FULL_REDUCTIONS and not node.args)):
            self._layout_hidden.add(id(func.value))
        if in_loop(self.context) or in_forward(self.context):
            self._check(node, "in a loop" if in_loop(self.context) else "in forward()")

    def visit_ListComp(self, node: cst.ListComp | cst.SetComp | cst.DictComp | cst.GeneratorExp) -> bool | None:
        if in_loop(self.context) or in_forward(self.context):
            return None  # the calls inside are visited as calls in a loop
        for part in _repeated_parts(node):
            for call in _calls_in(part):
                self._check(call, "in a comprehension")
        return False

    # A method per comprehension type, not on_visit: the walk then calls this rule at those nodes only.
    visit_SetComp = visit_DictComp = visit_GeneratorExp = visit_ListComp  # type: ignore[assignment]

    def _check(self, node: cst.Call, where: str) -> None:
        call = einsum_call(node, self.context)
        if call is None or call.operands is None or len(call.operands) < 3 or generates_code(self.context):
            return
        equation = call.equation.value.replace(" ", "") if call.equation is not None else None
        chain = equation is not None and is_matrix_chain(equation)
        fix = None
        if where == "in a loop" and equation is not None:
            fix = self._multi_dot(node, call.operands, equation) if chain else self._hoisted_expression(node, equation, call.operands)
        withdrawn = self._another_class(call.operands) if fix is not None else None
        if withdrawn is not None:
            fix = None
        if withdrawn is not None:
            advice = (
                "torch.linalg.multi_dot picks the order without a path search" if chain else "build an opt_einsum.contract_expression once and reuse it"
            ) + f" (no fix: {withdrawn})"
        elif chain:
            advice = "a chain of matrix products: torch.linalg.multi_dot picks the order without a path search"
            if fix is not None and fix.assumptions:
                advice += f" (unsafe fix: assumes {', '.join(_ASSUMPTION_TEXT[name] for name in fix.assumptions)})"
            elif fix is None and where == "in a loop":
                advice += " (no fix: the code does not prove every operand 2-D, and multi_dot accepts a 1-D end operand where the einsum raises)"
        elif fix is not None:
            advice = (
                "build an opt_einsum.contract_expression once, on the first iteration, and reuse it (unsafe fix: "
                "its contraction order is the one for the first iteration's shapes)"
            )
        elif where == "in a loop" and self.context.module_alias("opt_einsum") is None:
            advice = "build an opt_einsum.contract_expression once and reuse it (no fix: this module does not import opt_einsum, and a fix adds no dependency)"
        else:
            advice = "build an opt_einsum.contract_expression once and reuse it"
        self.report(
            node,
            f"torch.einsum with {len(call.operands)} operands {where} searches a contraction path on every call; {advice}",
            fix,
        )

    def _another_class(self, operands: tuple[cst.BaseExpression, ...]) -> str | None:
        """Why no fix, where the code uses an operand as a class other than a tensor."""
        for operand in operands:
            evidence = self.context.operand_evidence(operand)
            if evidence.foreign_attributes:
                return another_class(evidence.foreign_owner, evidence.foreign_attributes)
        return None

    def _multi_dot(self, node: cst.Call, operands: tuple[cst.BaseExpression, ...], equation: str) -> FixProposal | None:
        torch_alias = self.context.module_alias("torch", node)
        if torch_alias is None:
            return None
        listed = ", ".join(self.context.unit.code_for(operand) for operand in operands)
        replacement = f"{torch_alias}.linalg.multi_dot([{listed}])"
        evidence = [self.context.operand_evidence(operand) for operand in operands]
        # einsum before, multi_dot after: on 2-D torch tensors both compute the matrix product. With
        # a rank unproven there is no fix at all: multi_dot takes a 1-D first or last operand where the
        # einsum's 2-D terms raise, and a fix must never turn an error into a value.
        if not all(fact.rank == 2 for fact in evidence):
            return None
        assumptions = []
        if not _chain_sizes_proven(evidence):
            assumptions.append("matching-sizes")  # einsum broadcasts a size-1 label; multi_dot raises
        if not all(fact.is_tensor for fact in evidence):
            assumptions.append("tensor-operands")  # a tensor subclass sees multi_dot instead of einsum
        if id(node) not in self._layout_hidden:
            assumptions.append("result-layout")  # einsum may return a permuted matrix, multi_dot a contiguous one
        target = VerificationTarget("the einsum call replaced by multi_dot", node, operands, equation)
        if not assumptions:
            return FixProposal(node, replacement, target=target)
        return FixProposal(node, replacement, Applicability.UNSAFE, tuple(assumptions), target=target)

    def _hoisted_expression(self, node: cst.Call, equation: str, operands: tuple[cst.BaseExpression, ...]) -> FixProposal | None:
        """``name = None`` before the loop; ``if name is None: name = opt_einsum.contract_expression(
        equation, *shapes)`` before the statement; the call becomes ``name(*operands, backend='torch')``."""
        if "." in equation or "->" not in equation:
            return None  # an ellipsis stands for a rank the expression would fix on the first call
        if not all(isinstance(operand, cst.Name) for operand in operands):
            # Each operand is written twice (for its shape, then as an argument): only a local name
            # reads nothing more; an attribute may be a property that runs code on every read.
            return None
        candidate = self.context.unit.candidate
        loops = repeating_loops(self.context)
        if not candidate.is_statement or not loops:
            return None
        if _evaluated_conditionally(node, candidate.node, self.context):
            # the shapes are read before the statement, unconditionally: inside ``x if c else y``,
            # ``and``/``or``, a comprehension or a lambda the operands may not exist (or be others)
            return None
        statement, loop = candidate.node, loops[0]
        source = self.context.unit.source
        statement_line = source.line_text(statement.lineno)
        loop_line = source.line_text(loop.lineno)
        if statement_line[: statement.col_offset].strip() or loop_line[: loop.col_offset].strip():
            return None  # shares its line with other code: no room for a statement before it
        edits: list[Edit] = []
        module = self.context.module_alias("opt_einsum")
        if module is None:
            return None  # a fix adds no dependency the module does not already have
        name = fresh_name("einsum_" + re.sub(r"[^A-Za-z0-9]+", "_", equation.replace("->", "_to_")), source.text)
        newline = source.newline
        indent = statement_line[: len(statement_line) - len(statement_line.lstrip())]
        loop_indent = loop_line[: len(loop_line) - len(loop_line.lstrip())]
        quote = self.context.preferred_quote()
        shapes = ", ".join(f"{self.context.unit.code_for(operand)}.shape" for operand in operands)
        edits.append(Edit(source.line_starts[loop.lineno - 1], source.line_starts[loop.lineno - 1], f"{loop_indent}{name} = None{newline}"))
        build = f"{indent}if {name} is None:{newline}{indent}    {name} = {module}.contract_expression({quote}{equation}{quote}, {shapes}){newline}"
        edits.append(Edit(source.line_starts[statement.lineno - 1], source.line_starts[statement.lineno - 1], build))
        arguments = ", ".join(self.context.unit.code_for(operand) for operand in operands)
        replacement = f"{name}({arguments}, backend={quote}torch{quote})"
        built = Binding(name, None, f"{module}.contract_expression({quote}{equation}{quote}, {shapes})")
        target = VerificationTarget("the einsum call replaced by a reused contraction", node, operands, equation, (built,))
        return FixProposal(node, replacement, Applicability.UNSAFE, ("fixed-shapes-in-loops",), extra_edits=tuple(edits), target=target)


def is_matrix_chain(equation: str) -> bool:
    """``ij,jk,kl->il``: matrices, each sharing its second label with the next one's first, all other
    labels distinct, the result the first row label by the last column label."""
    if "->" not in equation or "." in equation:
        return False
    inputs, output = equation.split("->")
    terms = inputs.split(",")
    if len(terms) < 3 or not all(len(term) == 2 for term in terms) or len(output) != 2:
        return False
    if any(left[1] != right[0] for left, right in zip(terms, terms[1:])):
        return False
    labels = [terms[0][0], *(term[1] for term in terms)]
    return len(set(labels)) == len(labels) and output == terms[0][0] + terms[-1][1]


_CONDITIONAL = (ast.IfExp, ast.BoolOp, ast.Lambda, ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)


def _evaluated_conditionally(call: cst.Call, statement: ast.stmt, context: RuleContext) -> bool:
    """Is ``call`` inside a part of ``statement`` that may run other than once, in order: a branch
    of a conditional expression, an operand of ``and``/``or``, a comprehension or a lambda?"""
    start, end = context.unit.span(call)
    source = context.unit.source
    for node in ast.walk(statement):
        if isinstance(node, _CONDITIONAL) and node.end_lineno is not None:
            first = source.offset(node.lineno, source.char_col(node.lineno, node.col_offset))
            last = source.offset(node.end_lineno, source.char_col(node.end_lineno, node.end_col_offset or 0))
            if first <= start and end <= last:
                return True
    return False


def _repeated_parts(node: cst.ListComp | cst.SetComp | cst.DictComp | cst.GeneratorExp) -> list[cst.CSTNode]:
    """What a comprehension evaluates once per item: all of it but its first iterable, which runs once."""
    parts: list[cst.CSTNode] = [node.key, node.value] if isinstance(node, cst.DictComp) else [node.elt]
    parts.extend(node.for_in.ifs)
    if node.for_in.inner_for_in is not None:
        parts.append(node.for_in.inner_for_in)
    return parts


def _calls_in(node: cst.CSTNode) -> list[cst.Call]:
    found: list[cst.Call] = []

    class _Collector(cst.CSTVisitor):
        def visit_Call(self, call: cst.Call) -> None:
            found.append(call)

    node.visit(_Collector())
    return found


_ASSUMPTION_TEXT = {
    "matching-sizes": "the contracted sizes match (einsum broadcasts a size-1 one, multi_dot raises)",
    "tensor-operands": "the operands are plain torch tensors (a subclass would see multi_dot instead of einsum)",
    "result-layout": "nothing that receives the result depends on its strides (einsum may return a permuted matrix)",
}


def _chain_sizes_proven(evidence: list[OperandEvidence]) -> bool:
    """Whether literal sizes the code states make each matrix's columns equal the next one's rows."""
    shapes = [fact.shape for fact in evidence]
    if any(shape is None or len(shape) != 2 or None in shape for shape in shapes):
        return False
    return all(left[1] == right[0] for left, right in zip(shapes, shapes[1:]))  # type: ignore[index]
