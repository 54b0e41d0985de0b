"""The shared shape of the EIN1xx rules: model the largest chain at each expression, and let the rule
whose kind matches report it with an einsum rewrite and the obligations that rewrite rests on."""

from __future__ import annotations

import ast
from typing import ClassVar

import libcst as cst

from einlint.diagnostics import Applicability
from einlint.engine.context import RuleContext
from einlint.evidence.foreign_attributes import another_class
from einlint.evidence.operands import DEFAULT_FLOAT, VIEW_METHODS, dotted_name, viewed_names
from einlint.rewrite.algebra import Chain, ChainError, UnknownRank, unproven_size_matches
from einlint.rewrite.analyzer import CONTRACTION_WORDS, analyze, is_chain_candidate
from einlint.rewrite.classify import ChainKind, classify
from einlint.rewrite.emit import equation_for
from einlint.rules.base import Binding, FixProposal, Rule, SoundnessFamily, Triggers, VerificationTarget


MATMUL_WORDS = frozenset({"matmul", "bmm", "mm"})
# The fix category of a rewrite measured slower than the code it replaces; not a fact a project can
# declare, so such a fix is never applied without --unsafe-fixes.
SLOWER_REWRITE = "slower-rewrite"
# Methods whose result does not depend on the receiver's memory layout.
LAYOUT_NORMALISING_METHODS = frozenset({"contiguous", "item", "tolist"})
FULL_REDUCTIONS = frozenset({"sum", "mean", "prod", "norm", "max", "min", "amax", "amin", "all", "any"})

# How every chain rewrite handles the families of einlint.soundness; each rule adds its own sentences
# on dtype context and strictness, which differ between matrix products and products that are summed.
CHAIN_SOUNDNESS = {
    SoundnessFamily.FOLDED_TEMPORARIES: (
        "a single-use temporary (``kt = k.transpose(-1, -2)``) is folded only where moving the view to its "
        "use cannot make it read something else: a view with literal dimensions of one name, defined in the "
        "same block as the use with only call-free name bindings between them, read before anything with a "
        "call, walrus or ``yield`` in the use's statement and not inside a lambda or comprehension; in-place "
        "ops through aliases or helpers, ``.data =``, ``requires_grad_()``, grad-mode switches and "
        "``nonlocal``/``global`` rebinding all need one of those, so where the fold is refused the chain as "
        "written keeps its own finding and fix, or is reported without a fix."
    ),
    SoundnessFamily.STALE_FACTS: (
        "a rank or literal shape is a fact only for a name bound once in the function (a factory, a view "
        "with literal sizes, a shape unpack, an assert; never an annotation), and a direct shape-changing "
        "in-place call (``x.unsqueeze_()``, ``x.resize_()``, ...), ``x.data =``, ``global`` or ``nonlocal`` "
        "count as rebindings that withdraw it; not yet handled: the same change through an alias or inside "
        "a helper leaves the fact stale, and the fix then spells the stale rank."
    ),
    SoundnessFamily.NAMES: (
        "the fix writes ``torch.einsum`` (or the file's own einsum alias) only where that name is provably "
        "the torch module's when the line runs (not a parameter, a local, a comprehension or lambda "
        "variable, a later local import, ``del`` or a TYPE_CHECKING-only import), and otherwise reports "
        "without a fix; ``matmul``/``bmm``/``mm`` are read as torch's only where they resolve to torch."
    ),
    SoundnessFamily.ANNOTATIONS: (
        "only a torch factory in the same scope (and tensor methods of such a tensor) proves an operand a "
        "plain dense tensor; an annotation merely rules out a numpy array, so ``tensor-operands`` is named: "
        "a sparse tensor makes einsum raise, while a ``__torch_function__`` subclass sees einsum instead of "
        "the original calls (silent where the assumption fails); "
        "an operand the same scope uses with an attribute torch.Tensor lacks (``K.add_jitter()``, "
        "``K.root_decomposition()``, ``hasattr(K, 'evaluate')``; the list is ``dir(torch.Tensor)``) is "
        "another class (a structured matrix): no fix at all, and the message says why."
    ),
    SoundnessFamily.RESULT_LAYOUT: (
        "einsum lays its result out by its own algorithm, so the fix names ``contiguous-result`` where the "
        "result flows into ``.view()`` and ``result-layout`` elsewhere, unless what consumes it "
        "(``.contiguous()``, ``.item()``, ``.tolist()``, a full reduction, an ``@``) makes a fresh tensor of "
        "its own; both are silent where they fail; ``x @= v`` becomes ``x = torch.einsum(...)`` only for a "
        "plain name ``x``: torch.Tensor defines no ``__imatmul__`` (torch 2.13; a test pins it), so ``@=`` "
        "itself binds a new tensor to ``x`` and leaves every alias of the old one as it was, exactly as the "
        "rewrite does; an item or attribute target (``a[i] @= v``) is not rewritten (its index would run twice)."
    ),
    SoundnessFamily.FIXPOINTS: (
        "a chain is reported whole (its parts are not reported again) and fixes that overlap wait for the "
        "fixer's next round; rounds repeat until no fix is left (up to 100: only a nesting deeper than "
        "that leaves work for a second ``--fix``)."
    ),
}
# The dtype and strictness of a chain of matrix products (EIN101, EIN102, EIN104).
MATMUL_CHAIN_SOUNDNESS = {
    **CHAIN_SOUNDNESS,
    SoundnessFamily.DTYPE_CONTEXT: (
        "matmul and einsum both compute in low precision under autocast and both raise on mixed dtypes, so "
        "a chain of matrix products assumes nothing (checked in torch: with mixed, integer or bool dtypes "
        "both forms raise alike or compute alike); a chain that also sums follows EIN103's dtype rules (an "
        "integer or bool operand withdraws the fix, a summed elementwise product names ``no-autocast``)."
    ),
    SoundnessFamily.STRICTNESS: (
        "dimensions that mm/bmm/matmul require equal (the contracted ones, bmm's batch ones) are named "
        "``matching-sizes`` unless literal sizes prove them equal (einsum broadcasts a size-1 one where they "
        "raise; silent where it fails), literal sizes that differ withdraw the fix, and every assumed rank "
        "is written as explicit labels, so a wrong one makes einsum raise."
    ),
}
# The dtype and strictness of a product that is summed (EIN103, EIN111).
SUMMED_PRODUCT_SOUNDNESS = {
    **CHAIN_SOUNDNESS,
    SoundnessFamily.DTYPE_CONTEXT: (
        "the fix names ``no-autocast`` unless every operand is float64 (under autocast einsum computes in "
        "low precision, ``*`` and ``sum`` in float32) and is withdrawn inside a visible ``with torch.autocast(...)`` "
        "or autocast decorator; a stated integer or bool dtype (``.long()``, "
        "``.to(torch.int32)``, an annotation ``torch.BoolTensor`` or jaxtyping ``Int[...]``) withdraws it (sum "
        "promotes to int64, einsum does not), as do two different stated floating dtypes (``*`` promotes, "
        "einsum raises; dtypes read from ``.float()``, ``.half()``, ``.to(torch.float16)``, ``.to(dtype=...)``, "
        "``.type(torch.long)``); dtypes not proven floating and equal name ``float-dtypes``, which fails loudly for bool "
        "and mixed dtypes but silently for integers narrower than int64 the code does not state (einsum keeps "
        "int32 where sum gives int64), and ``set_default_dtype`` in the file stops two default-dtype "
        "factories proving one dtype."
    ),
    SoundnessFamily.STRICTNESS: (
        "einsum broadcasts a size-1 dimension as ``*`` does, so no size is assumed; every rank the labels "
        "assume is explicit, so a wrong one makes einsum raise; where only indexing from the front suggests "
        "the ranks (``a[:, :, None]``, ``x.unsqueeze(2)`` of an operand of unknown rank), another rank makes "
        "the original pair other dimensions rather than raise, so that reading is reported, never fixed."
    ),
}


class ChainRule(Rule):
    """Abstract: subclasses set ``kind``, ``benefit`` (what the rewrite buys, for the message)."""

    triggers = Triggers(names=CONTRACTION_WORDS, matmul_operator=True)
    kind: ClassVar[ChainKind]
    benefit: ClassVar[str]
    summary_text: ClassVar[str]
    # Set when the rule's rewrite is measured slower than the original: its fix then always needs
    # --unsafe-fixes, so a plain --fix never trades speed for style (no ``assume`` entry waives it).
    slower_rewrite: ClassVar[str | None] = None

    def __init__(self, context: RuleContext) -> None:
        super().__init__(context)
        self._viewed: set[int] = set()  # ids of expressions whose result a .view() reinterprets
        # ids of expressions whose memory layout nothing can observe: what consumes them makes a
        # fresh tensor of its own (``.contiguous()``, a matrix product, a full reduction to 0-D)
        self._layout_hidden: set[int] = set()
        # ids of nodes inside f-strings -> the quote characters those f-strings use (before Python
        # 3.12 an expression in an f-string cannot contain its quote character)
        self._enclosing_quotes: dict[int, set[str]] = {}

    @classmethod
    def applies(cls, words) -> bool:
        if words.has_matmul or words.names & MATMUL_WORDS:
            return True
        return "sum" in words.names and (words.has_multiply or "mul" in words.names)

    def on_visit(self, node: cst.CSTNode) -> bool:
        if isinstance(node, cst.Call) and isinstance(node.func, cst.Attribute) and node.func.attr.value in VIEW_METHODS:
            self._viewed.add(id(node.func.value))
        if (
            isinstance(node, cst.Call)
            and isinstance(node.func, cst.Attribute)
            and (node.func.attr.value in LAYOUT_NORMALISING_METHODS or (node.func.attr.value in FULL_REDUCTIONS and not node.args))
        ):
            self._layout_hidden.add(id(node.func.value))
        if isinstance(node, cst.BinaryOperation) and isinstance(node.operator, cst.MatrixMultiply):
            self._layout_hidden.update((id(node.left), id(node.right)))
        if isinstance(node, cst.FormattedString):
            for inner in _descendants(node):
                self._enclosing_quotes.setdefault(id(inner), set()).add(node.start[-1])
        if isinstance(node, cst.AugAssign) and isinstance(node.operator, cst.MatrixMultiplyAssign):
            self._visit_in_place_matmul(node)
            return True
        if not isinstance(node, cst.BaseExpression) or not is_chain_candidate(node):
            return True
        found = self._chain(node)
        if found is None:
            return not self.report_unmodelled(node)
        chain, kind = found
        if kind is self.kind:
            self._report_chain(node, chain)
            return False
        # A larger chain that another enabled rule reports: its parts are not reported again.
        return not (kind is not None and kind in self.context.analysis.enabled_chain_kinds)

    def report_unmodelled(self, node: cst.BaseExpression) -> bool:
        """Report ``node``, a chain the algebra cannot model, where the rule has something to say of
        it anyway (no fix); True when it did."""
        return False

    def _visit_in_place_matmul(self, statement: cst.AugAssign) -> None:
        """``x @= w.T``: torch.Tensor defines no ``__imatmul__`` (torch 2.13), so Python runs
        ``x = x @ w.T``: a new tensor bound to ``x``, nothing written in place, aliases of the old ``x``
        unchanged. The product is modelled as that binary matmul and, when it is this rule's kind,
        rewritten as ``x = torch.einsum(...)``, which binds the same way. Only a plain name target: ``a[i]
        @= b`` or ``self.x @= b`` evaluate the target's parts once, a rewrite would evaluate them twice."""
        if not isinstance(statement.target, cst.Name):
            return
        memo = self.context.unit.memo
        # The product is built once per statement and kept in the unit's memo, so that ids that key
        # other memo entries (its ast, its chain) stay its own while the unit lives.
        product = memo.setdefault(("in-place product", id(statement)), cst.BinaryOperation(statement.target, cst.MatrixMultiply(), statement.value))
        found = self._chain(product)
        if found is not None and found[1] is self.kind:
            self._report_chain(product, found[0], in_place=statement)

    def _chain(self, node: cst.BaseExpression) -> tuple[Chain, ChainKind | None] | None:
        memo = self.context.unit.memo
        key = ("chain", id(node))
        if key not in memo:
            try:
                chain = analyze(node, self.context)
                memo[key] = (chain, classify(chain))
            except UnknownRank:
                memo[key] = _guessed_chain(node, self.context)
                return memo[key]
            except ChainError:
                memo[key] = None
            if memo[key] is not None and chain.fold_refusals:
                # A temporary that cannot be folded: the chain as written, if it is a finding of its
                # own, keeps a fix; else the chain through the temporary is reported without one.
                try:
                    unfolded = analyze(node, self.context, fold_temporaries=False)
                    kind = classify(unfolded)
                    if kind is not None:
                        memo[key] = (unfolded, kind)
                except ChainError:
                    pass
        return memo[key]

    def _report_chain(self, node: cst.BaseExpression, chain: Chain, in_place: cst.AugAssign | None = None) -> None:
        """Report ``node``'s chain with its einsum fix; ``in_place``: the ``x @= ...`` statement whose
        product ``node`` models (the finding is the statement's, the fix rewrites it as ``x = ...``)."""
        equation = equation_for(chain)
        names = ", ".join(_short(self.context.unit.code_for(leaf.node)) for leaf in chain.leaves)
        reference = self.context.einsum_reference(node)
        blocked = None
        foreign = next((leaf for leaf in chain.leaves if leaf.foreign_attributes), None)
        if foreign is not None:
            blocked = another_class(foreign.foreign_owner, foreign.foreign_attributes)
        elif chain.rank_guesses:
            blocked = f"the ranks are not proven: {', '.join(chain.rank_guesses)}; so read, it {_summed_dimensions(chain)}"
        elif chain.fold_refusals:
            blocked = "; ".join(chain.fold_refusals)
        elif reference is None:
            blocked = "torch is not provably imported where this code runs"
        elif _has_comment_outside(node, [leaf.node for leaf in chain.leaves]):
            blocked = "a comment inside the expression would be lost"
        quote = self.context.preferred_quote()
        enclosing = self._enclosing_quotes.get(id(node), set())
        if quote in enclosing:
            quote = "'" if quote == '"' else '"'
            if quote in enclosing:
                blocked = blocked or "the f-strings around it use both quote characters"
        default_dtype_changes = "set_default_dtype" in self.context.analysis.text or "set_default_tensor_type" in self.context.analysis.text
        blocked = blocked or _dtype_obligation(chain, default_dtype_changes)
        if blocked is None and any(category == "no-autocast" for category, _ in chain.assumptions) and under_visible_autocast(self.context):
            # The code itself shows the assumption false: no fix, rather than one that assumes otherwise.
            blocked = "it runs under torch.autocast here (einsum would compute in low precision, the product and sum in float32)"
        if self._flows_into_view(node, in_place):
            # einsum may return a permuted view (with broadcast batch dimensions, say) where the
            # original returned a contiguous tensor; .view() then raises.
            chain.assume("contiguous-result", "the result may be non-contiguous: it flows into .view()")
        elif in_place is not None or id(node) not in self._layout_hidden:
            # einsum lays out its result by its own algorithm (a permuted view of a bmm, strides that
            # follow the inputs'), not as the original's matmul, product or reduction did: stride(),
            # is_contiguous(), data_ptr(), .view() and out= in a caller can tell them apart.
            chain.assume("result-layout", "nothing that receives the result depends on its strides (einsum may lay it out differently)")
        try:
            unmatched = unproven_size_matches(chain)
        except ChainError as error:
            blocked = blocked or str(error)
            unmatched = []
        if unmatched:
            # mm/bmm/matmul raise on a size mismatch of the contracted (and bmm's batch) dimensions;
            # einsum broadcasts one of size 1 and returns a value.
            chain.assume(
                "matching-sizes", f"the matched dimensions of {', '.join(unmatched)} have equal sizes (einsum broadcasts a size-1 one where matmul raises)"
            )
        for leaf in chain.leaves:
            if not leaf.is_tensor:
                chain.assume("tensor-operands", f"{leaf.shown} is a torch tensor")
        if self.slower_rewrite is not None:
            chain.assume(SLOWER_REWRITE, self.slower_rewrite)
        message = f"{self.summary_text}: torch.einsum({quote}{equation}{quote}, {names}) ({self.benefit})"
        fix = None
        if blocked is None:
            # A call is an atom: it needs no parentheses of its own (the node's span excludes any).
            replaced = node if in_place is None else in_place.value
            operands = [self.context.unit.code_for(leaf.node) for leaf in chain.leaves]
            replacement = self._layout(replaced, reference, f"{quote}{equation}{quote}", operands)
            categories = tuple(dict.fromkeys(category for category, _ in chain.assumptions))
            applicability = Applicability.UNSAFE if categories else Applicability.SAFE
            # ``x @= v`` becomes ``x = torch.einsum(...)``: the value is replaced and ``@=`` becomes ``=``.
            extra = ((in_place.operator, "="),) if in_place is not None else ()
            target = VerificationTarget(
                "the product chain rewritten as one einsum" if in_place is None else "the product that @= binds, rewritten as one einsum",
                replaced, tuple(operands), equation, tuple(Binding(name, view, None) for name, view in chain.folded_views),
                in_place.target.value if in_place is not None and isinstance(in_place.target, cst.Name) else None,
            )  # fmt: skip
            fix = FixProposal(replaced, replacement, applicability, categories, extra=extra, extra_edits=tuple(chain.folded), target=target)
            if chain.folded_names:
                message += f" (folds the single-use temporary {', '.join(chain.folded_names)})"
            if categories:
                details = "; ".join(detail for _, detail in chain.assumptions)
                message += f" [unsafe fix: assumes {details}]"
        else:
            message += f" [no fix: {blocked}]"
        self.report(node if in_place is None else in_place, message, fix)

    def _layout(self, node: cst.BaseExpression, reference: str, equation: str, operands: list[str]) -> str:
        """The einsum call on one line (the engine wraps it to the project's line length), or one
        argument per line when an operand spans lines."""
        single = f"{reference}({equation}, {', '.join(operands)})"
        if not any("\n" in operand for operand in operands):
            return single
        unit = self.context.unit
        source = unit.source
        start, _ = unit.span(node)
        line, _ = source.position(start)
        text = source.line_text(line)
        indent = text[: len(text) - len(text.lstrip())]
        newline = source.newline
        inner = indent + "    "
        # An operand's own continuation lines move one level in with it (unless a multi-line string
        # inside it would change).
        operands = [operand if '"""' in operand or "'''" in operand else operand.replace(newline, newline + "    ") for operand in operands]
        arguments = "".join(f"{newline}{inner}{argument}," for argument in (equation, *operands))
        return f"{reference}({arguments}{newline}{indent})"

    def _flows_into_view(self, node: cst.BaseExpression, in_place: cst.AugAssign | None = None) -> bool:
        """Is the chain's result reinterpreted by ``.view()``: directly, or through the local it is
        assigned to (by ``=`` or, for ``in_place``, by ``@=``)?"""
        if id(node) in self._viewed:
            return True
        root = self.context.unit.root
        if not (isinstance(root, cst.SimpleStatementLine) and len(root.body) == 1):
            return False
        statement = root.body[0]
        if in_place is not None:
            if statement is not in_place:
                return False
            target = in_place.target
        elif isinstance(statement, cst.Assign) and statement.value is node and len(statement.targets) == 1:
            target = statement.targets[0].target
        elif isinstance(statement, cst.AnnAssign) and statement.value is node:
            target = statement.target
        else:
            return False
        if not isinstance(target, cst.Name):
            return False
        scope = self.context.enclosing_function() or self.context.analysis.tree
        key = ("viewed names", id(scope))
        memo = self.context.analysis.memo
        if key not in memo:
            memo[key] = viewed_names(scope)
        return target.value in memo[key]


def _guessed_chain(node: cst.BaseExpression, context: RuleContext) -> tuple[Chain, ChainKind] | None:
    """A product-then-sum whose operands' ranks are unknown but indexed from the front
    (``(a[:, :, None] * b[:, None, :]).sum(0)``): modelled on the ranks that indexing names, for a
    report. The dimensions it involves depend on those ranks, so it is never rewritten."""
    try:
        chain = analyze(node, context, guess_ranks=True)
    except ChainError:
        return None
    kind = classify(chain)
    if not chain.rank_guesses or kind not in (ChainKind.OUTER_PRODUCT_SUM, ChainKind.MULTIPLY_SUM):
        return None
    return chain, kind


def _summed_dimensions(chain: Chain) -> str:
    """Which dimension of which operand each summed label is: ``sums dim 0 of a with dim 0 of b``."""
    places: dict[int, list[str]] = {}
    for leaf in chain.leaves:
        for index, label in enumerate(leaf.labels):
            dim = index - len(leaf.labels) if leaf.ellipsis else index
            places.setdefault(id(label.find()), []).append(f"dim {dim} of {leaf.shown}")
    parts = [" with ".join(places.get(id(label.find()), [])) for label in dict.fromkeys(label.find() for label in chain.summed)]
    return "sums " + " and ".join(part for part in parts if part)


def _dtype_obligation(chain: Chain, default_dtype_changes: bool = False) -> str | None:
    """Why the operands' dtypes stop the rewrite, or None after recording what it assumes about them.

    ``sum`` promotes integer and bool values to int64 where einsum keeps the dtype, and ``*`` promotes
    mixed dtypes where einsum raises. A matmul raises on mixed dtypes as einsum does, so a chain without
    a sum needs nothing, and one floating operand of a matmul proves the other's dtype.

    Where no operand's dtype is stated, the fix assumes ``float-dtypes``: where that is false, bool
    operands and mixed dtypes make einsum raise, int64 ones give sum's result, and integers narrower
    than int64 are the silent case (einsum returns their dtype, and can overflow it, where sum
    returns int64), which the README lists.

    Under ``torch.autocast`` a two-operand einsum runs in the low-precision dtype (it is a batched
    matmul inside) while ``*`` and ``sum`` stay float32: a product-then-sum rewritten into einsum
    returns bfloat16 or float16 there. No analysis of the function can rule out a caller that enables
    autocast, so that rewrite always names ``no-autocast`` (float64 operands are never autocast).
    ``torch.set_default_dtype`` anywhere in the file makes two default-dtype factories no proof of one
    dtype.
    """
    if not chain.sums:
        return None
    leaves = chain.leaves
    integral = [leaf for leaf in leaves if leaf.integral]
    if integral:
        return f"{integral[0].shown} has an integer or bool dtype (sum promotes it to int64, einsum does not)"
    if chain.multiplies and not all(leaf.dtype == "torch.float64" for leaf in leaves):
        chain.assume(
            "no-autocast",
            "no caller runs it under torch.autocast (einsum then computes in low precision, the product and sum in float32)",
        )
    if not any(leaf.is_float for leaf in leaves):
        # Nothing states a dtype: the fix assumes floats, and says what it does where they are not.
        # Integer operands narrower than int64 are the one silent failure (einsum keeps int32 where
        # sum gives int64); bool makes einsum raise, mixed dtypes too, int64 gives sum's result.
        chain.assume(
            "float-dtypes",
            "the operands have one floating dtype (with int32 or narrower integers einsum keeps their dtype where sum gives int64)",
        )
        return None
    if not chain.multiplies:
        return None
    dtypes = {leaf.dtype for leaf in leaves}
    if default_dtype_changes and DEFAULT_FLOAT in dtypes:
        dtypes.add(None)  # the default dtype may differ between the factories
    if all(leaf.is_float for leaf in leaves) and len(dtypes) == 1 and None not in dtypes:
        return None
    names = {leaf.written for leaf in leaves}
    if all(leaf.is_float for leaf in leaves) and len(names) == 1 and next(iter(names)).isidentifier():
        return None  # one floating tensor times itself (``(q * q).sum(-1)``): a single dtype
    if len(dtypes - {None, DEFAULT_FLOAT}) > 1:
        return "the operands have different dtypes (the product promotes them, einsum raises)"
    chain.assume("float-dtypes", "every operand has the same floating dtype")
    return None


AUTOCAST_FUNCTIONS = frozenset({"torch.autocast", "torch.amp.autocast", "torch.cpu.amp.autocast", "torch.cuda.amp.autocast"})


def under_visible_autocast(context: RuleContext) -> bool:
    """Does the innermost ``with torch.autocast(...)`` around the unit, or an autocast decorator of its
    function, enable autocast (anything but a literal ``enabled=False``)?"""
    for node in reversed(context.unit.candidate.ancestors):
        if isinstance(node, (ast.With, ast.AsyncWith)):
            calls = [item.context_expr for item in node.items]
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            calls = list(node.decorator_list)
        else:
            continue
        for call in reversed(calls):
            if isinstance(call, ast.Call):
                dotted = dotted_name(call.func)
                if dotted is not None and context.imports.qualify(dotted) in AUTOCAST_FUNCTIONS:
                    disabled = any(k.arg == "enabled" and isinstance(k.value, ast.Constant) and k.value.value is False for k in call.keywords)
                    return not disabled
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            return False  # code around a function's definition does not run its body
    return False


def _descendants(node: cst.CSTNode):
    for child in node.children:
        yield child
        yield from _descendants(child)


def _short(code: str, limit: int = 40) -> str:
    """An operand's code on one line, shortened for a message."""
    flat = " ".join(code.split())
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."


def _has_comment_outside(root: cst.CSTNode, leaves: list[cst.CSTNode]) -> bool:
    found = False
    leaf_ids = {id(leaf) for leaf in leaves}

    class _Finder(cst.CSTVisitor):
        def on_visit(self, node: cst.CSTNode) -> bool:
            nonlocal found
            if id(node) in leaf_ids:
                return False
            if isinstance(node, cst.Comment):
                found = True
            return not found

    root.visit(_Finder())
    return found
