"""Read a libcst expression as a chain of tensor operations and model it with the label algebra."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import libcst as cst

from einlint.diagnostics import Edit
from einlint.evidence.operands import OperandEvidence
from einlint.rewrite import algebra
from einlint.rewrite.algebra import Chain, ChainError, Value
from einlint.rewrite.literals import literal_int, literal_int_sequence

# Method names that end a chain when applied to an operand; torch.<name>(x, ...) is the same operation.
TRANSPOSE_METHODS = frozenset({"transpose", "swapaxes", "swapdims"})
MATMUL_FUNCTIONS = {"torch.matmul": "matmul", "torch.bmm": "bmm", "torch.mm": "mm"}
MATMUL_METHODS = {"matmul": "matmul", "bmm": "bmm", "mm": "mm"}
CHAIN_WORDS = frozenset({"matmul", "bmm", "mm", "transpose", "swapaxes", "swapdims", "permute", "T", "mT", "t", "mul", "sum", "unsqueeze", "squeeze"})
# A chain needs a contraction: a statement without one of these (or ``@``) holds none.
CONTRACTION_WORDS = frozenset({"matmul", "bmm", "mm", "sum"})
MAX_LEAVES = 2
# bmm and mm raise unless both operands have exactly this rank: the rank is proven, not assumed.
PROVEN_RANK = {"bmm": 3, "mm": 2}
NOT_TENSORS = (
    cst.Integer, cst.Float, cst.Imaginary, cst.SimpleString, cst.ConcatenatedString, cst.FormattedString,
    cst.List, cst.Tuple, cst.Dict, cst.Set, cst.ListComp, cst.Lambda, cst.Comparison, cst.BooleanOperation,
)  # fmt: skip  # three or more operands make torch.einsum search a contraction path on every call


@dataclass(frozen=True)
class FoldableTemporary:
    """A single-use view temporary (``kt = k.transpose(-1, -2)``) as a chain at its use sees it."""

    view: cst.BaseExpression  # the definition's value
    deletion: Edit  # deletes the definition's statement
    refusal: str | None  # why the view cannot move to the use; None when folding it is sound


class ChainOracle(Protocol):
    """What modelling a chain asks about the code around it, and nothing more (the engine's rule context
    answers it; a test can answer it from a table)."""

    def qualified_name(self, node: cst.CSTNode) -> str | None:
        """``torch.matmul`` for a reference to torch's, None for anything else."""

    def foldable_temporary(self, name: str) -> FoldableTemporary | None:
        """A single-use view temporary the chain may read through: its view, the edit deleting its
        definition, and why folding it is refused, if it is."""

    def operand_evidence(self, node: cst.CSTNode) -> OperandEvidence:
        """What is known about an operand: tensor, rank, dtype, shape."""

    def derives_from_attribute(self, name: str) -> bool:
        """Is local ``name`` bound once, to an attribute read (a parameter rather than an activation)?"""

    def written(self, node: cst.CSTNode) -> str:
        """``node`` as the file spells it."""


def is_chain_candidate(node: cst.CSTNode) -> bool:
    """Cheap test: could ``node`` be the root of a chain (a contraction or a sum)?"""
    if isinstance(node, cst.BinaryOperation):
        return isinstance(node.operator, cst.MatrixMultiply)
    if isinstance(node, cst.Call):
        func = node.func
        if isinstance(func, cst.Attribute):
            return func.attr.value in CHAIN_WORDS
        return isinstance(func, cst.Name)
    return isinstance(node, cst.Attribute) and node.attr.value in ("T", "mT")


def analyze(node: cst.BaseExpression, oracle: ChainOracle, fold_temporaries: bool = True, guess_ranks: bool = False) -> Chain:
    """Model ``node``, reading through single-use view temporaries unless ``fold_temporaries`` is
    False. Where a matmul operand of proven rank meets one of unknown rank, the exact '...' form is
    tried first; if the rest of the chain then cannot be modelled (it addresses batch dimensions by
    position), the chain is modelled again with explicit labels on both sides.

    ``guess_ranks``: an operand of unknown rank indexed from the front (``a[:, :, None]``,
    ``x.unsqueeze(2)``) is read as having exactly the dimensions that indexing names, recorded in
    ``Chain.rank_guesses``; such a chain is for a report, not a rewrite."""
    chain = Chain()
    try:
        return _analyze(node, oracle, chain, fold_temporaries, guess_ranks)
    except ChainError:
        if not chain.converted_to_ellipsis:
            raise
    return _analyze(node, oracle, Chain(allow_ellipsis_conversion=False), fold_temporaries, guess_ranks)


def _analyze(node: cst.BaseExpression, oracle: ChainOracle, chain: Chain, fold_temporaries: bool, guess_ranks: bool = False) -> Chain:
    value = _Reader(oracle, chain, fold_temporaries, guess_ranks).read(node)
    if len(chain.leaves) != MAX_LEAVES:
        raise ChainError(f"{len(chain.leaves)} operands")
    if not (chain.matmuls or chain.sums and chain.multiplies):
        raise ChainError("no contraction")
    if any(label.find().unit for label in value.labels):
        raise ChainError("the result keeps an inserted size-1 dimension")
    for leaf in chain.leaves:
        # A label twice in one term would make einsum take a diagonal.
        if len({id(label.find()) for label in leaf.labels}) != len(leaf.labels):
            raise ChainError("two dimensions of one operand identified")
    roots = [label.find() for label in value.labels]
    if len({id(root) for root in roots}) != len(roots):
        raise ChainError("a label repeated in the result")
    chain.output = value
    return chain


class _Reader:
    def __init__(self, oracle: ChainOracle, chain: Chain, fold_temporaries: bool = True, guess_ranks: bool = False) -> None:
        self.oracle = oracle
        self.chain = chain
        self.fold_temporaries = fold_temporaries
        self.guess_ranks = guess_ranks

    def _guess(self, value: Value, rank: int, node: cst.BaseExpression) -> None:
        """In guessing mode, read an operand of unknown rank as ``rank``-D because ``node`` indexes it so."""
        if self.guess_ranks and value.ellipsis and value.leaf is not None:
            algebra.guess_rank(value, rank, self.chain, _short_code(self.oracle.written(node)))

    def read(self, node: cst.BaseExpression, rank: int | None = None) -> Value:
        """Model ``node``; ``rank`` is a rank the surrounding call proves (bmm: 3), passed down through
        rank-preserving transposes to the operand it constrains."""
        if isinstance(node, cst.BinaryOperation):
            if isinstance(node.operator, cst.MatrixMultiply):
                return algebra.matmul(self.read(node.left), self.read(node.right), self.chain, "matmul")
            if isinstance(node.operator, cst.Multiply) and self._inside_sum:
                return algebra.multiply(self.read(node.left), self.read(node.right), self.chain, self._sum_trailing)
        if isinstance(node, cst.Attribute) and node.attr.value in ("T", "mT") and not self._is_module_path(node):
            inner = self.read(node.value, rank)
            if node.attr.value == "mT":
                return algebra.matrix_transpose(inner, self.chain)
            return algebra.two_d_transpose(inner, self.chain, ".T")
        if isinstance(node, cst.Call):
            value = self._read_call(node, rank)
            if value is not None:
                return value
        if isinstance(node, cst.Subscript):
            value = self._read_none_index(node, rank)
            if value is not None:
                return value
        return self._leaf(node, rank)

    _sum_depth = 0
    _sum_trailing = 0  # trailing dimensions the enclosing sum addresses

    @property
    def _inside_sum(self) -> bool:
        return self._sum_depth > 0

    def _is_module_path(self, node: cst.Attribute) -> bool:
        return self.oracle.qualified_name(node) is not None

    def _read_call(self, call: cst.Call, rank: int | None) -> Value | None:
        qualified = self.oracle.qualified_name(call.func)
        args = call.args
        if qualified is not None:
            if qualified in MATMUL_FUNCTIONS and _positional(args, 2):
                kind = MATMUL_FUNCTIONS[qualified]
                first, second = self._tensor(args[0].value, PROVEN_RANK.get(kind)), self._tensor(args[1].value, PROVEN_RANK.get(kind))
                return algebra.matmul(first, second, self.chain, kind)
            short = qualified.removeprefix("torch.")
            if qualified.startswith("torch.") and short in TRANSPOSE_METHODS and _positional(args, 3):
                dims = _ints(args[1:])
                return algebra.transpose(self._tensor(args[0].value, rank), dims[0], dims[1], self.chain) if dims else None
            if qualified == "torch.permute" and len(args) == 2 and not args[0].keyword:
                dims = literal_int_sequence(args[1].value)
                return algebra.permute(self._tensor(args[0].value), dims, self.chain) if dims else None
            if qualified == "torch.sum":
                return self._sum(args[0].value if args and not args[0].keyword else None, args[1:])
            if qualified == "torch.mul" and self._inside_sum and _positional(args, 2):
                return algebra.multiply(self._tensor(args[0].value), self._tensor(args[1].value), self.chain, self._sum_trailing)
            return None  # any other named function: an opaque operand
        func = call.func
        if not isinstance(func, cst.Attribute):
            return None
        method, receiver = func.attr.value, func.value
        if method in MATMUL_METHODS and _positional(args, 1):
            kind = MATMUL_METHODS[method]
            first, second = self._tensor(receiver, PROVEN_RANK.get(kind)), self._tensor(args[0].value, PROVEN_RANK.get(kind))
            return algebra.matmul(first, second, self.chain, kind)
        if method in TRANSPOSE_METHODS and len(args) == 2:
            dims = _ints(args, ("dim0", "dim1"))
            return algebra.transpose(self.read(receiver, rank), dims[0], dims[1], self.chain) if dims else None
        if method == "permute" and args:
            dims = _ints(args) if len(args) > 1 else literal_int_sequence(args[0].value) or _ints(args)
            return algebra.permute(self._tensor(receiver), dims, self.chain) if dims else None
        if method == "t" and not args:
            return algebra.two_d_transpose(self._tensor(receiver, rank), self.chain, ".t()")
        if method == "unsqueeze" and len(args) == 1:
            dims = _ints(args, ("dim",))
            if not dims:
                return None
            # bmm(w.unsqueeze(1), s): bmm's proven 3 dimensions are 2 of w's.
            value = self._tensor(receiver, rank - 1 if rank is not None and rank > 1 else None)
            if dims[0] > 0:
                self._guess(value, dims[0], call)  # x.unsqueeze(2): x has at least 2 dimensions
            return algebra.unsqueeze(value, dims[0], self.chain)
        if method == "squeeze" and len(args) == 1:
            dims = _ints(args, ("dim",))
            return algebra.squeeze(self.read(receiver), dims[0], self.chain) if dims else None
        if method == "mul" and self._inside_sum and _positional(args, 1):
            return algebra.multiply(self._tensor(receiver), self._tensor(args[0].value), self.chain, self._sum_trailing)
        if method == "sum":
            return self._sum(receiver, args)
        return None

    def _sum(self, receiver: cst.BaseExpression | None, args) -> Value | None:
        if receiver is None:
            return None
        dims: list[int] | None = None
        for arg in args:
            keyword = arg.keyword.value if arg.keyword else None
            if keyword in (None, "dim") and dims is None and not arg.star:
                single = literal_int(arg.value)
                dims = literal_int_sequence(arg.value) or ([single] if single is not None else None)
                if not dims:
                    return None
            elif keyword == "keepdim" and isinstance(arg.value, cst.Name) and arg.value.value == "False":
                continue
            else:
                return None  # keepdim=True, dtype=, out=: not an einsum
        if not dims:
            return None  # a full reduction
        self._sum_depth += 1
        outer_trailing = self._sum_trailing
        self._sum_trailing = max((-d for d in dims if d < 0), default=0)
        try:
            inner = self.read(receiver)
        finally:
            self._sum_depth -= 1
            self._sum_trailing = outer_trailing
        return algebra.sum_over(inner, dims, self.chain)

    def _tensor(self, node: cst.BaseExpression, rank: int | None = None) -> Value:
        """Read an operand of a torch function or of a method numpy arrays do not have. That rules out
        a numpy array, not a tensor-like class (LinearOperator and other ``__torch_function__``
        wrappers support matmul and these methods but not einsum): only evidence proves a tensor."""
        return self.read(node, rank)

    def _read_none_index(self, node: cst.Subscript, rank: int | None = None) -> Value | None:
        """``x[:, None]``, ``x[..., None]``, ``x[None]``: only full slices, None and one Ellipsis."""
        items = []
        for element in node.slice:
            index = element.slice
            if isinstance(index, cst.Slice):
                if index.lower or index.upper or index.step:
                    return None
                items.append(":")
            elif isinstance(index, cst.Index) and isinstance(index.value, cst.Name) and index.value.value == "None":
                items.append("None")
            elif isinstance(index, cst.Index) and isinstance(index.value, cst.Ellipsis):
                items.append("...")
            else:
                return None
        if "None" not in items or items.count("...") > 1:
            return None
        inner_rank = rank - items.count("None") if rank is not None else None
        value = self.read(node.value, inner_rank if inner_rank is not None and inner_rank > 0 else None)
        if "..." in items:
            split = items.index("...")
            tail = items[split + 1 :]
            # Insert from the right: each None in the tail sits before the slices that follow it.
            for position, item in enumerate(tail):
                if item == "None":
                    after = sum(1 for later in tail[position + 1 :] if later == ":")
                    value = algebra.unsqueeze(value, -after - 1, self.chain)
            head = items[:split]
        else:
            head = items
            # a[:, :, None]: a has at least as many dimensions as slices, and usually exactly that many.
            self._guess(value, items.count(":"), node)
        offset = 0
        for item in head:
            if item == "None":
                value = algebra.unsqueeze(value, offset, self.chain)
            offset += 1
        return value

    def _leaf(self, node: cst.BaseExpression, proven_rank: int | None = None) -> Value:
        if isinstance(node, NOT_TENSORS):
            raise ChainError("a literal operand")
        if self.fold_temporaries and isinstance(node, cst.Name) and node.value not in self.chain.folded_names:
            temporary = self.oracle.foldable_temporary(node.value)
            if temporary is not None:
                # kt = k.transpose(-1, -2); q @ kt: the view joins the chain, its statement goes.
                # Where the view cannot move here, the chain is still modelled through it, for a
                # finding without a fix.
                if temporary.refusal is None:
                    self.chain.folded.append(temporary.deletion)
                else:
                    self.chain.fold_refusals.append(temporary.refusal)
                self.chain.folded_names.append(node.value)
                self.chain.folded_views.append((node.value, temporary.view))
                return self.read(temporary.view, proven_rank)
        evidence = self.oracle.operand_evidence(node)
        if evidence.not_tensor:
            raise ChainError(f"an operand known not to be a torch tensor ({evidence.not_tensor})")
        rank = evidence.rank
        if proven_rank is not None:
            if rank is not None and rank != proven_rank:
                raise ChainError("the original raises: rank conflict")
            rank = proven_rank
        hint = _name_hint(node, lambda func: self.oracle.qualified_name(func) is not None)
        attribute_like = isinstance(node, cst.Attribute) or (isinstance(node, cst.Name) and self.oracle.derives_from_attribute(node.value))
        written = " ".join(self.oracle.written(node).split())
        written = written if len(written) <= MAX_WRITTEN else ""
        value = algebra.new_leaf(self.chain, node, hint, rank, evidence.is_tensor, evidence.is_float, evidence.dtype, attribute_like, written)
        self.chain.leaves[-1].integral = evidence.integral
        self.chain.leaves[-1].foreign_attributes = evidence.foreign_attributes
        self.chain.leaves[-1].foreign_owner = evidence.foreign_owner
        if value.leaf is not None and evidence.shape is not None and len(evidence.shape) == rank:
            value.leaf.shape = evidence.shape
        return value


# Longest operand quoted as written in a message; longer ones go by their name hint.
MAX_WRITTEN = 40


def _short_code(code: str) -> str:
    flat = " ".join(code.split())
    return flat if len(flat) <= MAX_WRITTEN else flat[: MAX_WRITTEN - 3] + "..."


def _positional(args, count: int) -> bool:
    return len(args) == count and all(arg.keyword is None and not arg.star for arg in args)


def _ints(args, keywords: tuple[str, ...] = ()) -> list[int] | None:
    values = []
    for position, arg in enumerate(args):
        if arg.star:
            return None
        if arg.keyword is not None and (not keywords or position >= len(keywords) or arg.keyword.value != keywords[position]):
            return None
        value = literal_int(arg.value)
        if value is None:
            return None
        values.append(value)
    return values


def _name_hint(node: cst.BaseExpression, is_imported=lambda func: False) -> str:
    """A readable name for an operand: ``query_states`` for ``self.query_states``, ``idx_q`` for
    ``idx_q.float()``, ``key_layer`` for ``F.normalize(key_layer, dim=-1)``, ``q_proj`` for
    ``self.q_proj(h)``, ``query`` for ``query * self.scale``; "operand" when there is none.
    ``is_imported`` tells a function imported from a module (named after its argument) from a method
    of the operand (named after the operand)."""
    for _ in range(16):
        if isinstance(node, cst.Name):
            return node.value
        if isinstance(node, cst.Attribute):
            if node.attr.value in ("T", "mT", "H", "mH", "data"):
                node = node.value
                continue
            return node.attr.value
        if isinstance(node, cst.Subscript):
            node = node.value
        elif isinstance(node, cst.Call):
            func = node.func
            if isinstance(func, cst.Name) or is_imported(func):
                if not node.args or node.args[0].keyword or node.args[0].star:
                    return func.value if isinstance(func, cst.Name) else func.attr.value
                node = node.args[0].value  # torch.flatten(x, 1), normalize(key_layer): the argument
            elif isinstance(func, cst.Attribute) and isinstance(func.value, cst.Name) and func.value.value == "self":
                return func.attr.value  # self.q_proj(h): the module's name
            elif isinstance(func, cst.Attribute):
                node = func.value  # x.float(), x.movedim(d, -1): a method of the operand
            else:
                break
        elif isinstance(node, cst.BinaryOperation):
            left = _name_hint(node.left, is_imported)
            return left if left != "operand" else _name_hint(node.right, is_imported)
        elif isinstance(node, cst.UnaryOperation):
            node = node.expression
        else:
            break
    return "operand"
