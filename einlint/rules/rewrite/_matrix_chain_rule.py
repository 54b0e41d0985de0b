"""The shared shape of EIN106 and EIN107: find each chain of three or more matrix products once, at its
outermost product, and let the rule whose case it is report it."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import ClassVar

import libcst as cst

from einlint.engine.context import RuleContext
from einlint.evidence.operands import DEFAULT_FLOAT
from einlint.rewrite.matrix_chain import Factor, Order, Product, Tree, best_order, factors, is_product, modelled_time, order_cost, read_chain, written_cost
from einlint.rules.base import Rule, SoundnessFamily, Triggers
from einlint.rules.rewrite._chain_rule import under_visible_autocast

# 16-bit floating dtypes: about 65,504 (float16) is the largest finite value, and bfloat16 rounds each
# product to 8 bits of mantissa.
HALF_DTYPES = frozenset({"torch.float16", "torch.bfloat16"})

# A better order is reported where the time model (multiply-adds plus the elements moved, see
# rewrite.matrix_chain) gives it at most half the written order's time and saves at least this much:
# below about a million multiply-adds a CPU matmul takes microseconds, lost in the per-call overhead.
MIN_SAVED_MULTIPLY_ADDS = 1 << 20
MIN_SPEEDUP = 2


class ChainCase(enum.Enum):
    COSTLY_ORDER = "costly-order"  # every size known, and another association is provably far cheaper
    SIZES_UNKNOWN = "sizes-unknown"  # some size unknown: only the run time can tell the best order


@dataclass(frozen=True)
class MatrixChain:
    root: cst.BaseExpression
    tree: Tree
    factors: list[Factor]
    case: ChainCase
    written: int = 0  # multiply-adds of the written association, where every size is known
    best: int = 0  # multiply-adds of ``order``, the association of least modelled time
    order: Order | None = None


def chain_case(root: cst.BaseExpression, tree: Tree) -> MatrixChain | None:
    """Which case a chain of three or more factors is, or None where there is nothing to report (every
    size known and the written order good enough, or sizes the original rejects)."""
    found = factors(tree)
    if len(found) < 3:
        return None
    if any(factor.shape is None for factor in found):
        return MatrixChain(root, tree, found, ChainCase.SIZES_UNKNOWN)
    shapes = [factor.shape for factor in found if factor.shape is not None]
    try:
        written_time, _ = written_cost(tree, modelled_time)
    except ValueError:
        return None  # matched sizes differ: the original raises
    best_time, order = best_order(shapes, modelled_time)
    if written_time < MIN_SPEEDUP * best_time or written_time - best_time < MIN_SAVED_MULTIPLY_ADDS:
        return None
    return MatrixChain(root, tree, found, ChainCase.COSTLY_ORDER, written_cost(tree)[0], order_cost(order, shapes), order)


MATRIX_CHAIN_SOUNDNESS = {
    SoundnessFamily.NAMES: (
        "``matmul`` and ``mm`` are read as torch's only where they resolve to torch (methods on any "
        "receiver); a fix that writes ``torch.linalg.multi_dot`` does so through the file's own torch "
        "alias, only where it is provably torch when the line runs, and otherwise has no fix."
    ),
    SoundnessFamily.ANNOTATIONS: (
        "only a torch factory in the same scope proves a factor a plain dense tensor; otherwise the fix names "
        "``tensor-operands`` (a ``__torch_function__`` subclass sees other calls; silent where it fails), "
        "and a reassociation is offered only on proven tensors (``a.mm(b)`` raises on a numpy array, ``@`` "
        "would not)."
    ),
    SoundnessFamily.STRICTNESS: (
        "every factor of a fix is proven 2-D, where ``@``, ``mm`` and ``multi_dot`` agree (a 1-D end that "
        "``multi_dot`` accepts never reaches it); sizes the original rejects are not reported; a fix only "
        "changes the order of the same products, so a size mismatch raises in both versions."
    ),
    SoundnessFamily.RESULT_LAYOUT: (
        "the result is a fresh contiguous matrix in every version (the last ``mm`` writes it); values differ "
        "only by rounding, as any reordering of floating-point sums does."
    ),
    SoundnessFamily.DTYPE_CONTEXT: (
        "the same products run in another order: mixed dtypes raise in both versions; under autocast every "
        "product runs in 16-bit floats in both, where another order can overflow to inf and the written one "
        "not, so a fix is withdrawn on stated 16-bit factors or inside a visible autocast and otherwise names "
        "``no-autocast`` unless every factor is float64 (which autocast leaves alone)."
    ),
    SoundnessFamily.FIXPOINTS: ("a reassociated chain is in the cheapest order, so a second ``--fix`` finds nothing to change."),
}


class MatrixChainRule(Rule):
    """Abstract: subclasses set ``case`` and implement ``report_chain``."""

    triggers = Triggers(names=frozenset({"matmul", "mm"}), matmul_operator=True)
    case: ClassVar[ChainCase]

    def __init__(self, context: RuleContext) -> None:
        super().__init__(context)
        self._inner: set[int] = set()  # products that belong to a chain already read at its root

    def on_visit(self, node: cst.CSTNode) -> bool:
        if not isinstance(node, cst.BaseExpression) or id(node) in self._inner or not is_product(node, self.context):
            return True
        tree = read_chain(node, self.context)
        self._mark_inner(tree)
        chain = chain_case(node, tree)
        if chain is not None and chain.case is self.case:
            self.report_chain(chain)
        return True

    def _mark_inner(self, tree: Tree) -> None:
        if isinstance(tree, Product):
            for part in (tree.left, tree.right):
                if isinstance(part, Product):
                    self._inner.add(id(part.node))
                    self._mark_inner(part)

    def report_chain(self, chain: MatrixChain) -> None:
        raise NotImplementedError

    def runs_in_16_bit_floats(self, chain: MatrixChain) -> bool:
        """A factor of a stated 16-bit dtype, a visible autocast around the chain, or a default dtype the
        file may change (``set_default_dtype``) for a factory that leaves its dtype to it."""
        if any(factor.dtype in HALF_DTYPES for factor in chain.factors) or under_visible_autocast(self.context):
            return True
        text = self.context.analysis.text
        default_may_change = "set_default_dtype" in text or "set_default_tensor_type" in text
        return default_may_change and any(factor.dtype == DEFAULT_FLOAT for factor in chain.factors)

    def factor_texts(self, chain: MatrixChain) -> list[str]:
        return [" ".join(self.context.written(factor.node).split()) for factor in chain.factors]


def has_comment(node: cst.CSTNode) -> bool:
    """A comment inside ``node``, which a fix rewriting it would lose."""

    class _Finder(cst.CSTVisitor):
        found = False

        def visit_Comment(self, comment: cst.Comment) -> None:
            self.found = True

    finder = _Finder()
    node.visit(finder)
    return finder.found


def all_float64(chain: MatrixChain) -> bool:
    """Every factor is stated float64, which autocast leaves alone."""
    return all(factor.dtype == "torch.float64" for factor in chain.factors)
