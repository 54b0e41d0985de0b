"""How a tensor's dimensions sit in memory, as far as the code shows it, and whether ``.view`` can
merge them.

A ``Layout`` records, for each dimension in logical order, where it sits in the row-major order of
the buffer behind it (a permutation), which dimensions are broadcast (``expand``: stride 0), and what
the code says of each size. It is followed through reordering views (transpose, permute, movedim, .T,
.mT), ``expand``, ``unsqueeze`` / ``None`` indexing, copies (``.contiguous()``) and layout-keeping
conversions (``.float()``, ``.to(...)``), names (through the one assignment that reaches a use), and
two-operand ``torch.einsum``.

``torch.einsum`` with two operands and a summed label returns a permuted view of a fresh ``bmm``
result whose dimensions are stored as: the labels of both operands, then the labels of one operand
only, then those of the other, each group in output order. Which single-operand group comes first
depends on the equation in ways not modelled here, so both orders are kept as candidates; a claim
about the layout must hold for both. (Checked against torch on thousands of random equations, with
contiguous and permuted inputs: the stored order was always one of the two.)

``.view`` reinterprets memory and raises ("view size is not compatible with input tensor's size and
stride") when a new dimension spans two old neighbours that are not stored one right inside the
other. Where the tensor an expression starts from is not traced (a parameter, a module's output) it
is taken to be contiguous; the rules say so in their messages.
"""

from __future__ import annotations

import ast
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, replace

from einlint.evidence.operands import FunctionFacts, OperandEvidence, dotted_name
from einlint.evidence.reaching import FROM_PARAMETER, Reaching, assigned_position, reaching_assignment

# A size as the product of its factors' source text (sorted; ``()`` is a known size of 1); None: unknown.
Size = tuple[str, ...]
MAX_TRACE_DEPTH = 12
_REORDERING = frozenset({"transpose", "swapaxes", "swapdims", "permute", "movedim", "t", "T", "mT"})
# Operations whose result may be a strided view of their input.
_STRIDED = _REORDERING | frozenset(
    {"expand", "expand_as", "einsum", "as_strided", "narrow", "diagonal", "unfold", "select", "split", "chunk",
     "unbind", "tensor_split", "movedim", "moveaxis", "squeeze", "broadcast_to", "broadcast_tensors"}
)  # fmt: skip
_PRODUCTS = frozenset({"matmul", "bmm", "mm"})
# Methods whose result keeps the receiver's strides (memory_format=torch.preserve_format).
_LAYOUT_KEEPING = frozenset({"float", "double", "half", "bfloat16", "to", "type_as", "detach", "clone"})


@dataclass(frozen=True)
class Layout:
    # orders[c][k]: position of logical dimension k in the buffer's row-major order (0 outermost),
    # one tuple per candidate layout.
    orders: tuple[tuple[int, ...], ...]
    sizes: tuple[Size | None, ...]
    broadcast: frozenset[int] = frozenset()
    cause: str = ""  # the operation that left the layout other than row-major ("transpose(1, 2)")
    einsum_output: bool = False  # the cause is a torch.einsum call (its result's layout)
    assumed_contiguous: str | None = None  # the untraced tensor taken to be contiguous, as written
    # The code does not show the rank: this is one of the shapes that stand for every rank the code
    # allows (see LayoutTracer.unknown_rank_layouts), its dims counted from the front (1) or from the
    # end (-1); 0 where the rank is known.
    rank_unknown: int = 0

    @property
    def rank(self) -> int:
        return len(self.sizes)

    @property
    def is_row_major(self) -> bool:
        return not self.broadcast and all(order == tuple(range(self.rank)) for order in self.orders)


def row_major(sizes: tuple[Size | None, ...], assumed: str | None = None) -> Layout:
    return Layout((tuple(range(len(sizes))),), sizes, assumed_contiguous=assumed)


@dataclass(frozen=True)
class ViewConflict:
    """Why ``.view`` cannot produce the requested shape: the neighbouring dimensions it must merge
    (one pair per candidate layout, logical indices)."""

    pairs: tuple[tuple[int, int], ...]
    # True when the written sizes do not show which neighbours merge and the proof counts instead:
    # some neighbours must merge, and (in ``pairs``' layouts) none can.
    counted: bool = False


class LayoutTracer:
    """Follows an expression of one function back to where its layout is known."""

    def __init__(
        self,
        facts: FunctionFacts,
        qualify: Callable[[ast.expr], str | None],
        evidence_at: Callable[[str, tuple[tuple[int, int], ...]], OperandEvidence],
        hidden: tuple[tuple[tuple[int, int], ...], frozenset[str]] = ((), frozenset()),
        rank_of: Callable[[ast.expr, tuple[tuple[int, int], ...]], int | None] = lambda node, chain: None,
    ) -> None:
        # the rank an expression is known to have at a use chain (evidence.operands), for matmul operands
        self.rank_of = rank_of
        # (a use chain, names that code at that chain binds itself: comprehension and lambda variables)
        self.hidden = hidden
        self._plain_names: dict[tuple[str, tuple[tuple[int, int], ...]], bool] = {}
        self.facts = facts
        self.qualify = qualify
        self.evidence_at = evidence_at

    def layout(self, node: ast.expr, chain: tuple[tuple[int, int], ...], depth: int = 0) -> Layout | None:
        if depth > MAX_TRACE_DEPTH:
            return None
        if isinstance(node, ast.Name):
            return self._name(node.id, chain, depth)
        if isinstance(node, ast.Attribute) and node.attr in ("T", "mT"):
            inner = self._receiver(node.value, chain, depth)
            if inner is None or (node.attr == "T" and inner.rank != 2) or inner.rank < 2:
                return None
            return _reordered(inner, _swap(inner.rank, -2, -1), f".{node.attr}")
        if isinstance(node, ast.Subscript):
            return self._indexed(node, chain, depth)
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.MatMult):
            return self._product(node.left, node.right, chain, depth)
        if not isinstance(node, ast.Call) or any(isinstance(arg, ast.Starred) for arg in node.args):
            return None
        qualified = self.qualify(node.func)
        if qualified in ("torch.einsum", "torch.functional.einsum"):
            return _einsum_layout(node)
        if qualified is not None and qualified.startswith("torch.") and node.args:
            method, receiver, args = qualified.removeprefix("torch."), node.args[0], node.args[1:]
        elif isinstance(node.func, ast.Attribute) and qualified is None:
            method, receiver, args = node.func.attr, node.func.value, node.args
        else:
            return None
        if method in _PRODUCTS and len(args) == 1 and not node.keywords:
            return self._product(receiver, args[0], chain, depth)
        if method in _REORDERING:
            return self._reordering(method, receiver, args, node.keywords, chain, depth)
        if method in ("view", "reshape"):
            return self._reshaped(method, receiver, args, node.keywords, chain, depth)
        if method == "contiguous" and not args and not node.keywords:  # not memory_format=channels_last
            inner = self._receiver(receiver, chain, depth)
            return row_major(inner.sizes) if inner is not None else None
        if method in _LAYOUT_KEEPING and not any(k.arg == "memory_format" for k in node.keywords):
            inner = self.layout(receiver, chain, depth + 1)
            if inner is None or inner.broadcast:
                return None  # a copy of a broadcast tensor is not broadcast any more
            return inner
        if method == "unsqueeze" and len(args) == 1 and not node.keywords:
            inner = self._receiver(receiver, chain, depth)
            dim = _literal_int(args[0])
            if inner is None or dim is None or not -inner.rank - 1 <= dim <= inner.rank:
                return None
            return _with_unit_dims(inner, [dim % (inner.rank + 1)])
        if method == "expand" and args and not node.keywords:
            return self._expanded(receiver, args, chain, depth)
        return None

    def unknown_rank_layouts(self, node: ast.expr, chain: tuple[tuple[int, int], ...], depth: int = 0, sized: bool = True) -> tuple[Layout, ...]:
        """For a transpose of a tensor whose rank the code does not show (``x.transpose(1, 2)`` of a
        parameter), the layouts that together stand for every rank it may have, as far as ``.view``
        can tell: the fewest dimensions the transpose allows, and one more dimension of unknown size
        for all the others (after the named ones for non-negative dims, before them for negative
        ones). A run of row-major dimensions behaves under ``.view`` exactly as one dimension of their
        product, so a view that raises for both raises for every rank. Empty when the node is not
        such a transpose or its layout is known anyway (then ``layout`` decides)."""
        if depth > MAX_TRACE_DEPTH:
            return ()
        if isinstance(node, ast.Name):
            if chain == self.hidden[0] and node.id in self.hidden[1]:
                return ()
            reaching = reaching_assignment(self.facts, node.id, chain)
            if not isinstance(reaching, Reaching) or self.facts.stale(node.id, assigned_position(self.facts, reaching), chain):
                return ()
            # Sizes are named only within one expression: a name may be rebound between two statements.
            return self.unknown_rank_layouts(reaching.value, reaching.chain, depth + 1, sized=False)
        if not isinstance(node, ast.Call) or node.keywords or any(isinstance(arg, ast.Starred) for arg in node.args):
            return ()
        qualified = self.qualify(node.func)
        if qualified is not None and qualified.startswith("torch.") and node.args:
            method, receiver, args = qualified.removeprefix("torch."), node.args[0], node.args[1:]
        elif isinstance(node.func, ast.Attribute) and qualified is None:
            method, receiver, args = node.func.attr, node.func.value, node.args
        else:
            return ()
        if method in _LAYOUT_KEEPING:
            return self.unknown_rank_layouts(receiver, chain, depth + 1, sized)
        dims = [_literal_int(arg) for arg in args]
        if method not in ("transpose", "swapaxes", "swapdims") or len(dims) != 2 or None in dims or dims[0] == dims[1]:
            return ()
        first, second = dims[0], dims[1]
        assert first is not None and second is not None
        if (first < 0) != (second < 0):
            return ()  # one counted from each end: which dims they are depends on the rank
        if self.layout(receiver, chain, depth + 1) is not None or not self._plain(receiver, chain, depth + 1):
            return ()
        owner = dotted_name(receiver) if sized else None
        if first >= 0:
            named = max(first, second) + 1
            sizes: list[Size | None] = [(f"{owner}.shape[{index}]",) if owner else None for index in range(named)]
            shapes = (tuple(sizes), (*sizes, None))
        else:
            named = -min(first, second)
            sizes = [(f"{owner}.shape[{index}]",) if owner else None for index in range(-named, 0)]
            shapes = (tuple(sizes), (None, *sizes))
        text = f"{method}({first}, {second})"
        layouts = []
        for shape in shapes:
            base = replace(row_major(shape, assumed=ast.unparse(receiver)), rank_unknown=1 if first >= 0 else -1)
            layouts.append(_reordered(base, _swap(len(shape), first, second), text))
        return tuple(layouts)

    # --- sources -------------------------------------------------------------------------------
    def _name(self, name: str, chain: tuple[tuple[int, int], ...], depth: int) -> Layout | None:
        if chain == self.hidden[0] and name in self.hidden[1]:
            return None
        reaching = reaching_assignment(self.facts, name, chain)
        if isinstance(reaching, Reaching):
            if self.facts.stale(name, assigned_position(self.facts, reaching), chain):
                return None  # reshaped or re-strided in place since (through an alias, a helper)
            return self.layout(reaching.value, reaching.chain, depth + 1)
        if reaching == FROM_PARAMETER:
            return self._untraced(name, chain)
        return None

    def _untraced(self, name: str, chain: tuple[tuple[int, int], ...]) -> Layout | None:
        evidence = self.evidence_at(name, chain)
        if evidence.rank is None:
            return None
        sizes: list[Size | None] = [None] * evidence.rank
        for index, label in enumerate(evidence.labels or ()):
            if index < evidence.rank and label != "_":
                sizes[index] = (label,)
        for index, literal in enumerate(evidence.shape or ()):
            if literal is not None and index < evidence.rank:
                sizes[index] = _literal_size(literal)
        return row_major(tuple(sizes), assumed=name)

    def _receiver(self, node: ast.expr, chain: tuple[tuple[int, int], ...], depth: int) -> Layout | None:
        return self.layout(node, chain, depth + 1)

    # --- operations ----------------------------------------------------------------------------
    def _reordering(self, method, receiver, args, keywords, chain, depth) -> Layout | None:
        if keywords:
            return None
        dims = [_literal_int(arg) for arg in args]
        if method == "permute" and len(args) == 1 and isinstance(args[0], (ast.Tuple, ast.List)):
            dims = [_literal_int(element) for element in args[0].elts]
        if any(dim is None for dim in dims):
            return None
        inner = self._receiver(receiver, chain, depth)
        if inner is None and method == "permute" and self._plain(receiver, chain, depth):
            inner = self._assumed(receiver, len(dims))
        if inner is None:
            return None
        rank = inner.rank
        if not all(-rank <= dim < rank for dim in dims):  # type: ignore[operator]
            return None
        text = ", ".join(str(dim) for dim in dims)
        if method in ("transpose", "swapaxes", "swapdims") and len(dims) == 2:
            return _reordered(inner, _swap(rank, dims[0], dims[1]), f"{method}({text})")  # type: ignore[arg-type]
        if method == "t" and not dims and rank == 2:
            return _reordered(inner, _swap(rank, 0, 1), ".t()")
        if method == "permute" and len(dims) == rank:
            order = [dim % rank for dim in dims]  # type: ignore[operator]
            if sorted(order) == list(range(rank)):
                return _reordered(inner, tuple(order), f"permute({text})")
        if method == "movedim" and len(dims) == 2:
            source, destination = (dim % rank for dim in dims)  # type: ignore[operator]
            order = [dim for dim in range(rank) if dim != source]
            order.insert(destination, source)
            return _reordered(inner, tuple(order), f"movedim({text})")
        return None

    def _plain(self, node: ast.expr, chain: tuple[tuple[int, int], ...], depth: int) -> bool:
        """Is ``node`` computed without any operation known to return a strided view (reordering,
        expand, slicing, einsum, ...), also through the assignments of every name it reads? Layout-
        keeping operations (``interpolate`` of a channels-last input stays channels-last) pass a
        strided input on, so arguments count as much as receivers."""
        if depth > MAX_TRACE_DEPTH:
            return False
        for part in ast.walk(node):
            if isinstance(part, ast.Subscript) or (isinstance(part, ast.Attribute) and part.attr in _STRIDED):
                return False
            if isinstance(part, ast.Call) and any(keyword.arg == "memory_format" for keyword in part.keywords):
                return False  # channels_last and the like: a layout this model does not follow
            if isinstance(part, ast.Name) and not self._plain_name(part.id, chain, depth):
                return False
        return True

    def _plain_name(self, name: str, chain: tuple[tuple[int, int], ...], depth: int) -> bool:
        if chain == self.hidden[0] and name in self.hidden[1]:
            return False
        key = (name, chain)
        if key not in self._plain_names:
            self._plain_names[key] = False  # a name read in its own definition, or a cycle
            entry = self.facts.names.get(name)
            if entry is None or not entry.bindings:
                result = True  # a global or an import: not a tensor computed here
            else:
                reaching = reaching_assignment(self.facts, name, chain)
                if isinstance(reaching, Reaching):
                    result = not self.facts.stale(name, assigned_position(self.facts, reaching), chain) and self._plain(
                        reaching.value, reaching.chain, depth + 1
                    )
                else:
                    result = reaching == FROM_PARAMETER
            self._plain_names[key] = result
        return self._plain_names[key]

    def _product(self, left: ast.expr, right: ast.expr, chain, depth: int) -> Layout | None:
        """A matrix product of operands of known ranks (both at least 2): a fresh row-major tensor of
        the larger rank (torch allocates matmul's result; checked on thousands of random shapes,
        transposed and broadcast operands included)."""
        ranks = []
        for operand in (left, right):
            traced = self.layout(operand, chain, depth + 1)
            ranks.append(traced.rank if traced is not None else self.rank_of(operand, chain))
        if any(rank is None or rank < 2 for rank in ranks):
            return None
        return row_major((None,) * max(ranks))  # type: ignore[type-var]

    def _assumed(self, node: ast.expr, rank: int) -> Layout:
        return row_major((None,) * rank, assumed=ast.unparse(node))

    def _reshaped(self, method, receiver, args, keywords, chain, depth) -> Layout | None:
        sizes = target_sizes(args) if not keywords else None
        if sizes is None:
            return None
        inner = self._receiver(receiver, chain, depth)
        if inner is None:
            if not self._plain(receiver, chain, depth):
                return None  # it went through an operation that leaves strides this model does not follow
            # The view succeeded; taking its input to be contiguous, so is its result.
            return row_major(tuple(None if size is WILDCARD else size for size in sizes), assumed=ast.unparse(receiver))
        if not inner.is_row_major:
            return None  # a view of a strided tensor: its strides are not modelled
        return row_major(tuple(None if size is WILDCARD else size for size in sizes), assumed=inner.assumed_contiguous)

    def _indexed(self, node: ast.Subscript, chain, depth) -> Layout | None:
        """``x[:, None]``, ``x[..., None, :]``: full slices and new axes only."""
        elements = node.slice.elts if isinstance(node.slice, ast.Tuple) else [node.slice]
        kinds = []
        for element in elements:
            if isinstance(element, ast.Slice) and element.lower is None and element.upper is None and element.step is None:
                kinds.append(":")
            elif isinstance(element, ast.Constant) and element.value is None:
                kinds.append("None")
            elif isinstance(element, ast.Constant) and element.value is Ellipsis:
                kinds.append("...")
            else:
                return None
        if kinds.count("...") > 1 or "None" not in kinds:
            return None
        inner = self._receiver(node.value, chain, depth)
        if inner is None:
            return None
        spans = kinds.count(":")
        if spans > inner.rank:
            return None
        if "..." in kinds:
            split = kinds.index("...")
            kinds[split : split + 1] = [":"] * (inner.rank - spans)
        else:
            kinds += [":"] * (inner.rank - spans)
        return _with_unit_dims(inner, [index for index, kind in enumerate(kinds) if kind == "None"])

    def _expanded(self, receiver, args, chain, depth) -> Layout | None:
        sizes = target_sizes(args)
        inner = self._receiver(receiver, chain, depth)
        if sizes is None or inner is None or len(sizes) < inner.rank:
            return None
        new = len(sizes) - inner.rank
        orders = tuple(tuple(range(new)) + tuple(new + position for position in order) for order in inner.orders)
        broadcast = set(range(new)) | {new + dim for dim in inner.broadcast}
        result_sizes: list[Size | None] = []
        for index, size in enumerate(sizes):
            old = inner.sizes[index - new] if index >= new else ()
            if size is WILDCARD:
                result_sizes.append(old)
                continue
            if index >= new and old == () and size != ():
                broadcast.add(index)  # a dimension of size 1 stretched: stride 0
            elif index >= new and old != size:
                # a dimension whose size is not known to be 1 keeps its stride; an unknown one may be 1
                if old is None:
                    return None
            result_sizes.append(size)
        broadcast -= {index for index, size in enumerate(result_sizes) if size == ()}
        return Layout(orders, tuple(result_sizes), frozenset(broadcast), f"expand({', '.join(ast.unparse(a) for a in args)})", False, inner.assumed_contiguous)


# --- sizes ---------------------------------------------------------------------------------------
class _Wildcard:
    def __repr__(self) -> str:
        return "-1"


WILDCARD = _Wildcard()


def target_sizes(args: list[ast.expr]) -> tuple[Size | _Wildcard, ...] | None:
    """The sizes ``view``/``reshape``/``expand`` are given: each as its product's factors; -1 is
    WILDCARD. None when they are not written out (``view(shape)``, ``view(torch.float16)``)."""
    if len(args) == 1 and isinstance(args[0], (ast.Tuple, ast.List)):
        args = list(args[0].elts)
    elif len(args) == 1 and _literal_int(args[0]) is None:
        return None
    if any(isinstance(arg, ast.Starred) for arg in args):
        return None
    sizes: list[Size | _Wildcard] = []
    for arg in args:
        literal = _literal_int(arg)
        if literal == -1:
            sizes.append(WILDCARD)
        elif literal is not None and literal < 0:
            return None
        else:
            sizes.append(_factors(arg))
    return tuple(sizes)


def _factors(node: ast.expr) -> Size:
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mult):
        return tuple(sorted(_factors(node.left) + _factors(node.right)))
    literal = _literal_int(node)
    if literal is not None:
        return _literal_size(literal)
    return (_canonical(node),)


def _literal_size(value: int) -> Size:
    return () if value == 1 else (str(value),)


def _canonical(node: ast.expr) -> str:
    """``x.size(1)`` and ``x.size()[1]`` are written ``x.shape[1]``."""
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "size" and len(node.args) == 1 and not node.keywords:
        owner = dotted_name(node.func.value)
        if owner is not None:
            return f"{owner}.shape[{ast.unparse(node.args[0])}]"
    if isinstance(node, ast.Subscript) and isinstance(node.value, ast.Call):
        call = node.value
        if isinstance(call.func, ast.Attribute) and call.func.attr == "size" and not call.args and not call.keywords:
            owner = dotted_name(call.func.value)
            if owner is not None:
                return f"{owner}.shape[{ast.unparse(node.slice)}]"
    return ast.unparse(node)


def _literal_int(node: ast.expr) -> int | None:
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        inner = _literal_int(node.operand)
        return -inner if inner is not None else None
    if isinstance(node, ast.Constant) and isinstance(node.value, int) and not isinstance(node.value, bool):
        return node.value
    return None


# --- layout algebra ------------------------------------------------------------------------------
def _swap(rank: int, first: int, second: int) -> tuple[int, ...]:
    order = list(range(rank))
    first, second = first % rank, second % rank
    order[first], order[second] = order[second], order[first]
    return tuple(order)


def _reordered(inner: Layout, order: tuple[int, ...], cause: str) -> Layout:
    """The view whose dimension k is ``inner``'s dimension ``order[k]``."""
    if order == tuple(range(inner.rank)):
        return inner
    return Layout(
        tuple(tuple(memory[source] for source in order) for memory in inner.orders),
        tuple(inner.sizes[source] for source in order),
        frozenset(k for k, source in enumerate(order) if source in inner.broadcast),
        inner.cause or cause,
        inner.einsum_output,
        inner.assumed_contiguous,
        inner.rank_unknown,
    )


def _with_unit_dims(inner: Layout, positions: list[int]) -> Layout:
    """``inner`` with new dimensions of size 1 at ``positions`` (indices in the result)."""
    mapping: list[int | None] = []
    remaining = iter(range(inner.rank))
    rank = inner.rank + len(positions)
    for index in range(rank):
        mapping.append(None if index in positions else next(remaining))
    orders = tuple(tuple(memory[source] if source is not None else -1 for source in mapping) for memory in inner.orders)
    sizes = tuple(inner.sizes[source] if source is not None else () for source in mapping)
    broadcast = frozenset(index for index, source in enumerate(mapping) if source is not None and source in inner.broadcast)
    return Layout(orders, sizes, broadcast, inner.cause, inner.einsum_output, inner.assumed_contiguous)


def _einsum_layout(call: ast.Call) -> Layout | None:
    if len(call.args) != 3 or call.keywords:
        return None
    equation = call.args[0]
    if not (isinstance(equation, ast.Constant) and isinstance(equation.value, str)):
        return None
    text = equation.value.replace(" ", "")
    if "->" not in text or "." in text:
        return None
    inputs, output = text.split("->")
    terms = inputs.split(",")
    if len(terms) != 2 or not all(term.isalpha() for term in (*terms, output) if term):
        return None
    left, right = terms
    if any(len(set(term)) != len(term) for term in (left, right, output)) or not set(output) <= set(left + right):
        return None
    if not (set(left) & set(right)) - set(output):
        return None  # nothing summed: torch multiplies, and the result's layout follows the inputs
    both = [label for label in output if label in left and label in right]
    left_only = [label for label in output if label in left and label not in right]
    right_only = [label for label in output if label in right and label not in left]
    orders = []
    for stored in (both + left_only + right_only, both + right_only + left_only):
        orders.append(tuple(stored.index(label) for label in output))
    sizes = tuple((label,) for label in output)  # only equal to itself: never matches a written size
    return Layout(tuple(dict.fromkeys(orders)), sizes, frozenset(), f"einsum('{equation.value}')", True, None)


# --- can .view do it? ----------------------------------------------------------------------------
def view_conflict(layout: Layout, target: tuple[Size | _Wildcard, ...]) -> ViewConflict | None:
    """A proof that ``.view(*target)`` of a tensor with ``layout`` raises when no dimension has size 1
    at run time, or None when it may succeed (or the sizes do not tell)."""
    dims = [index for index, size in enumerate(layout.sizes) if size != ()]
    if len(dims) < 2:
        return None
    spanned = _spanned_boundaries(layout, dims, target)
    pairs = []
    for order in layout.orders:
        if spanned is not None:
            blocked = [pair for pair in spanned if not _mergeable(layout, order, dims, pair)]
            if not blocked:
                return None
            pairs.append(blocked[0])
            continue
        # Sizes do not tell which neighbours merge: count. With r new dimensions of size > 1 over n
        # old ones, at least n - r neighbouring pairs must merge.
        needed = len(dims) - sum(1 for size in target if size != ())
        neighbours = list(zip(dims, dims[1:]))
        mergeable = [pair for pair in neighbours if _mergeable(layout, order, dims, pair)]
        if needed <= 0 or len(mergeable) >= needed:
            return None
        pairs.append(next(pair for pair in neighbours if pair not in mergeable))
    return ViewConflict(tuple(dict.fromkeys(pairs)), counted=spanned is None)


def _mergeable(layout: Layout, order: tuple[int, ...], dims: list[int], pair: tuple[int, int]) -> bool:
    outer, inner = pair
    if (outer in layout.broadcast) != (inner in layout.broadcast):
        return False
    if outer in layout.broadcast:
        return True  # two stride-0 dimensions merge into one
    stored = sorted((order[dim], dim) for dim in dims if dim not in layout.broadcast)
    positions = [dim for _, dim in stored]
    return positions.index(inner) == positions.index(outer) + 1


def _spanned_boundaries(layout: Layout, dims: list[int], target) -> list[tuple[int, int]] | None:
    """The neighbouring pairs (in ``dims``) that the new sizes merge, when the written sizes show it."""
    sizes = [layout.sizes[dim] for dim in dims]
    if any(size is None for size in sizes):
        wildcard_only = sum(1 for size in target if size is WILDCARD) == 1
        if not wildcard_only:
            return None
    wild = [index for index, size in enumerate(target) if size is WILDCARD]
    if len(wild) > 1:
        return None
    if not wild:
        walked = _walk(list(target), sizes)
        if walked is None or walked[1] != len(sizes):
            return None
        return [(dims[a], dims[b]) for a, b in walked[0]]
    split = wild[0]
    front = _walk(list(target[:split]), sizes)
    back = _walk([tuple(size) for size in reversed(target[split + 1 :])], list(reversed(sizes)))
    if front is None or back is None:
        return None
    start, end = front[1], len(sizes) - back[1]
    if start > end or any(size is None for size in sizes[:start] + sizes[end:]):
        return None
    pairs = list(front[0])
    pairs += [(len(sizes) - 1 - b, len(sizes) - 1 - a) for a, b in back[0]]
    pairs += [(index, index + 1) for index in range(start, end - 1)]
    return [(dims[a], dims[b]) for a, b in pairs]


def _walk(target: list, sizes: list[Size | None]) -> tuple[list[tuple[int, int]], int] | None:
    """Match new sizes against old ones from the front: (merged neighbour pairs, old dimensions
    consumed), or None when the factors do not line up exactly (ending inside an old dimension)."""
    pairs: list[tuple[int, int]] = []
    index = 0
    remaining: Counter | None = None
    for size in target:
        need = Counter(size)
        if not need:
            continue
        while need:
            if remaining is None:
                if index >= len(sizes) or sizes[index] is None:
                    return None
                remaining = Counter(sizes[index])
            if need <= remaining:
                remaining -= need
                need = Counter()
                if not remaining:
                    index, remaining = index + 1, None
            elif remaining <= need:
                need -= remaining
                index, remaining = index + 1, None
                if need:
                    pairs.append((index - 1, index))
            else:
                return None
    if remaining is not None:
        return None
    return pairs, index
