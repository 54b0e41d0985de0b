"""Axis-label algebra for tensor expressions.

Every value is described by the labels of its dimensions: either all of them (rank known), or an
ellipsis standing for unknown leading dimensions followed by known trailing ones. Each operation maps
labels exactly as torch maps dimensions; anything this model cannot follow exactly raises ChainError,
so a chain is either modelled faithfully or not rewritten at all.

Every leaf's rank is either proven (the code shows it, or the original would raise for any other rank)
or assumed; an assumed rank always becomes explicit labels or a minimum count of trailing labels, so a
wrong assumption makes ``torch.einsum`` raise instead of computing something else.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import libcst as cst

_ids = itertools.count()


class ChainError(Exception):
    """The expression is not a chain this model can rewrite exactly."""


class UnknownRank(ChainError):
    """A dimension addressed by its position from the front (``x[:, None]``, ``unsqueeze(1)``,
    ``sum(0)``) of a value whose rank is not known: the dimensions involved depend on that rank."""


@dataclass(eq=False)
class Label:
    """One dimension. Labels that broadcasting or contraction identify are merged (union-find)."""

    unit: bool = False  # a size-1 dimension inserted by unsqueeze/None; it has no operand dimension
    parent: Label | None = None
    ident: int = field(default_factory=lambda: next(_ids))

    def find(self) -> Label:
        label = self
        while label.parent is not None:
            label = label.parent
        return label


def unify(first: Label, second: Label) -> Label:
    a, b = first.find(), second.find()
    if a is b:
        return a
    if a.unit and b.unit:
        a.parent = b
        return b
    if a.unit:
        a.parent = b
        return b
    if b.unit:
        b.parent = a
        return a
    b.parent = a
    return a


@dataclass(eq=False)
class Leaf:
    """An operand of the final einsum: an opaque expression and the labels of its dimensions."""

    node: object  # the libcst expression
    name_hint: str
    ellipsis: bool
    labels: list[Label]
    proven_min_rank: int = 0  # the original raises unless the operand has at least this many dims
    assumed_min_rank: int = 0  # a minimum the rewrite assumes beyond what is proven
    rank_proven: bool = False  # an exact rank that the code proves
    rank_assumed_by: str | None = None  # why an exact rank was assumed, when it was
    is_tensor: bool = False
    is_float: bool = False
    dtype: str | None = None  # a floating dtype the code states, when it does
    attribute_like: bool = False  # read from an attribute (a parameter or buffer), directly or not
    written: str = ""  # the operand as the code writes it, when short enough to quote in a message
    integral: bool = False  # the code states an integer or bool dtype for it
    # attributes the code reads from it that torch.Tensor lacks (``.add_jitter()``): another class
    foreign_attributes: tuple[str, ...] = ()
    foreign_owner: str = ""  # the value they are read from
    shape: tuple[int | None, ...] | None = None  # literal sizes the code proves, one per label

    @property
    def shown(self) -> str:
        """How messages name the operand: as written (``R[:, j]``), else by its name hint."""
        return self.written or self.name_hint

    @property
    def min_rank_needed(self) -> int:
        return len(self.labels)


@dataclass(eq=False)
class Value:
    ellipsis: bool
    labels: list[Label]
    leaf: Leaf | None = None  # set while the value is a view (transpose, unsqueeze...) of one leaf
    contracted: bool = False  # a matmul or a sum has been applied


@dataclass(frozen=True)
class Reordering:
    """One transpose or permute met while modelling a chain."""

    on_result: bool  # applied to a matmul's result (else to an operand)
    swaps_last_two: bool  # its only effect is to swap the last two dimensions (``.T``, ``.mT``, ``transpose(-1, -2)``)
    moved: int  # how many dimensions change place (2 for any transpose)


@dataclass
class Chain:
    """The result of modelling an expression: the einsum's operands and output, and what it took."""

    leaves: list[Leaf] = field(default_factory=list)
    _keys: list = field(default_factory=list)  # parallel to ``assumptions``
    allow_ellipsis_conversion: bool = True
    converted_to_ellipsis: bool = False
    # Edits that delete the statements of single-use temporaries folded into the chain.
    folded: list = field(default_factory=list)
    folded_names: list[str] = field(default_factory=list)
    # What each folded temporary held, by name: the chain as written reads it there.
    folded_views: list[tuple[str, cst.BaseExpression]] = field(default_factory=list)
    # Why temporaries read through could not be folded (the chain then has no fix).
    fold_refusals: list[str] = field(default_factory=list)
    output: Value | None = None
    summed: list[Label] = field(default_factory=list)
    matmuls: int = 0
    multiplies: int = 0
    sums: int = 0
    reorderings: list[Reordering] = field(default_factory=list)
    outer_product: bool = False
    assumptions: list[tuple[str, str]] = field(default_factory=list)  # (category, detail)
    # Dimensions that a matrix product requires to be equal (the contracted ones; bmm's batch ones)
    # and einsum does not: it broadcasts a size-1 dimension of a shared label. (label, label, op)
    strict_pairs: list[tuple[Label, Label, str]] = field(default_factory=list)
    # Size-1 dimensions inserted by unsqueeze/None and removed again by squeeze (a matrix-vector
    # product through a column: ``(A @ x.unsqueeze(-1)).squeeze(-1)``).
    squeezes: int = 0
    # Ranks read from how the code indexes an operand of unknown rank (``a[:, :, None]``: 2-D), each
    # with its evidence; a chain modelled on such a reading is reported, never rewritten.
    rank_guesses: list[str] = field(default_factory=list)

    def assume(self, category: str, detail: str, key: object = None) -> None:
        """Record an assumption; one with the same ``key`` (a stronger minimum rank of the same
        operand) replaces the earlier one."""
        if key is not None:
            for index, existing in enumerate(self._keys):
                if existing == key:
                    self.assumptions[index] = (category, detail)
                    return
        if (category, detail) not in self.assumptions:
            self.assumptions.append((category, detail))
            self._keys.append(key)


def fresh(count: int) -> list[Label]:
    return [Label() for _ in range(count)]


def new_leaf(
    chain: Chain,
    node: object,
    name_hint: str,
    rank: int | None,
    is_tensor: bool,
    is_float: bool,
    dtype: str | None = None,
    attribute_like: bool = False,
    written: str = "",
) -> Value:
    leaf = Leaf(node, name_hint, ellipsis=rank is None, labels=fresh(rank or 0), rank_proven=rank is not None, written=written)
    leaf.is_tensor, leaf.is_float, leaf.dtype, leaf.attribute_like = is_tensor, is_float, dtype, attribute_like
    chain.leaves.append(leaf)
    return Value(leaf.ellipsis, list(leaf.labels), leaf)


def materialize(value: Value, count: int, proven: bool, chain: Chain, why: str) -> None:
    """Make at least ``count`` trailing labels explicit on an ellipsis value that views one leaf.
    ``proven``: the original raises when the leaf has fewer dimensions, so nothing is assumed."""
    if not value.ellipsis:
        if len(value.labels) < count:
            raise ChainError(f"a {len(value.labels)}-D value used where {count} dimensions are needed")
        return
    missing = count - len(value.labels)
    if missing > 0:
        leaf = value.leaf
        if leaf is None:
            raise ChainError("cannot expose dimensions of a combined value")
        extra = fresh(missing)
        leaf.labels[0:0] = extra
        value.labels[0:0] = extra
    leaf = value.leaf
    if leaf is not None:
        units = sum(1 for label in value.labels if label.find().unit)
        needed = count - units
        if proven:
            leaf.proven_min_rank = max(leaf.proven_min_rank, needed)
        elif needed > max(leaf.proven_min_rank, leaf.assumed_min_rank):
            leaf.assumed_min_rank = needed
            plural = "s" if needed != 1 else ""
            chain.assume("operand-ranks", f"{leaf.shown} has at least {needed} dimension{plural} ({why})", key=("min-rank", id(leaf)))


def fix_rank(value: Value, rank: int, chain: Chain, proven: bool, why: str, category: str = "operand-ranks") -> None:
    """Turn an ellipsis view of one leaf into explicit labels: the value has exactly ``rank`` dims."""
    if not value.ellipsis:
        if len(value.labels) != rank:
            raise ChainError(f"a {len(value.labels)}-D value where {rank} dimensions are required")
        return
    leaf = value.leaf
    if leaf is None:
        raise ChainError("cannot fix the rank of a combined value")
    materialize(value, rank, True, chain, why)
    if len(value.labels) != rank:
        raise ChainError("rank conflict")
    leaf.ellipsis = False
    value.ellipsis = False
    if proven:
        leaf.rank_proven = True
    elif not leaf.rank_proven:
        leaf.rank_assumed_by = why
        chain.assume(category, f"{leaf.shown} is {len(leaf.labels)}-D ({why})")


def guess_rank(value: Value, rank: int, chain: Chain, evidence: str) -> None:
    """Read an ellipsis view of one leaf as exactly ``rank``-D because of how the code indexes it
    (``evidence``). Not a proof: the chain is then only reported, with the reading in its message."""
    leaf = value.leaf
    if not value.ellipsis or leaf is None or rank < 1:
        raise UnknownRank("no reading of the operand's rank")
    fix_rank(value, rank, chain, False, f"read from {evidence}")
    chain.rank_guesses.append(f"{leaf.shown} read as {rank}-D from `{evidence}`")


def _position(value: Value, dim: int) -> int:
    """Index into ``value.labels`` of dimension ``dim``; negative dims count from the end."""
    size = len(value.labels)
    if dim < 0:
        if -dim > size:
            raise ChainError("dimension beyond the known trailing dimensions")
        return size + dim
    if value.ellipsis:
        raise UnknownRank("a non-negative dimension on a value of unknown rank")
    if dim >= size:
        raise ChainError("dimension out of range")
    return dim


def transpose(value: Value, first: int, second: int, chain: Chain) -> Value:
    if value.ellipsis and (first < 0) != (second < 0):
        raise ChainError("mixed-sign transpose of a value of unknown rank")
    if value.ellipsis and first < 0:
        materialize(value, max(-first, -second), True, chain, "transpose")
    elif value.ellipsis:
        low, high = sorted((first, second))
        if high != low + 1 or value.leaf is None:
            raise ChainError("transpose of absolute dimensions of a value of unknown rank")
        # Convention: transpose(k, k+1) on a matmul operand swaps its last two dimensions.
        fix_rank(value, high + 1, chain, False, f"transpose({first}, {second}) taken to swap its last two dimensions")
    i, j = _position(value, first), _position(value, second)
    labels = list(value.labels)
    labels[i], labels[j] = labels[j], labels[i]
    return _derived(value, labels, chain)


def permute(value: Value, dims: list[int], chain: Chain) -> Value:
    # permute raises unless it gets exactly one entry per dimension: the rank is proven.
    fix_rank(value, len(dims), chain, True, "permute")
    if any(not -len(dims) <= d < len(dims) for d in dims):
        raise ChainError("permute dimension out of range")
    positions = [d % len(dims) for d in dims]
    if sorted(positions) != list(range(len(dims))):
        raise ChainError("not a permutation")
    return _derived(value, [value.labels[p] for p in positions], chain)


def matrix_transpose(value: Value, chain: Chain) -> Value:
    """``.mT``: swaps the last two dimensions, raising below two."""
    return transpose(value, -2, -1, chain)


def two_d_transpose(value: Value, chain: Chain, spelling: str) -> Value:
    """``.T`` and ``.t()``: a transpose for a 2-D value (``.T`` reverses every dimension of an N-D one,
    ``.t()`` raises above 2-D; on 1-D both do nothing)."""
    if value.ellipsis:
        fix_rank(value, 2, chain, False, f"{spelling} taken as a 2-D transpose")
    if len(value.labels) != 2:
        raise ChainError(f"{spelling} on a {len(value.labels)}-D value")
    return _derived(value, [value.labels[1], value.labels[0]], chain)


def unsqueeze(value: Value, dim: int, chain: Chain) -> Value:
    if dim < 0:
        position_from_end = -dim - 1  # labels that stay after the new one
        materialize(value, position_from_end, True, chain, "unsqueeze")
        index = len(value.labels) - position_from_end
    else:
        if value.ellipsis:
            raise UnknownRank("unsqueeze at an absolute position of a value of unknown rank")
        if dim > len(value.labels):
            raise ChainError("unsqueeze out of range")
        index = dim
    labels = list(value.labels)
    labels.insert(index, Label(unit=True))
    return Value(value.ellipsis, labels, value.leaf, value.contracted)


def squeeze(value: Value, dim: int, chain: Chain) -> Value:
    """``squeeze(dim)`` of an inserted size-1 dimension, which it always removes; any other dimension
    might or might not have size 1, which the model cannot tell."""
    position = _position(value, dim)
    if not value.labels[position].find().unit:
        raise ChainError("squeeze of a dimension not known to have size 1")
    chain.squeezes += 1
    labels = value.labels[:position] + value.labels[position + 1 :]
    return Value(value.ellipsis, labels, value.leaf, value.contracted)


def _derived(value: Value, labels: list[Label], chain: Chain) -> Value:
    if value.contracted or value.leaf is not None:
        old = value.labels
        swaps_last_two = len(old) >= 2 and labels[:-2] == old[:-2] and labels[-2:] == [old[-1], old[-2]]
        moved = sum(1 for before, after in zip(old, labels) if before is not after)
        chain.reorderings.append(Reordering(value.contracted, swaps_last_two, moved))
    return Value(value.ellipsis, labels, value.leaf, value.contracted)


def _broadcast(first: list[Label], second: list[Label], chain: Chain) -> list[Label]:
    """Right-aligned broadcasting of two label lists of a value pair."""
    longer, shorter = (first, second) if len(first) >= len(second) else (second, first)
    offset = len(longer) - len(shorter)
    result = list(longer[:offset])
    for a, b in zip(longer[offset:], shorter):
        result.append(unify(a, b))
    return result


def _expanded(value: Value, other: Value) -> bool:
    """Does broadcasting against ``other`` enlarge ``value``: one of its inserted size-1 dimensions
    meets a real dimension, or it lacks leading dimensions that ``other`` has?"""
    if not value.ellipsis and len(value.labels) < len(other.labels):
        return True
    pairs = zip(reversed(value.labels), reversed(other.labels))
    return any(a.find().unit and not b.find().unit for a, b in pairs)


def _align(first: Value, second: Value, chain: Chain, why: str) -> None:
    """Give an ellipsis value at least as many trailing labels as the other value has."""
    if first.ellipsis and len(first.labels) < len(second.labels):
        materialize(first, len(second.labels), False, chain, why)
    if second.ellipsis and len(second.labels) < len(first.labels):
        materialize(second, len(first.labels), False, chain, why)
    if first.ellipsis and second.ellipsis and len(first.labels) != len(second.labels):
        raise ChainError("ellipsis values with different numbers of trailing dimensions")


def multiply(first: Value, second: Value, chain: Chain, min_trailing: int = 0) -> Value:
    """Elementwise product with broadcasting. ``min_trailing``: trailing dimensions a later ``sum``
    addresses, exposed on each operand before they are combined."""
    if any(not value.ellipsis and not value.labels for value in (first, second)):
        # A 0-D factor takes part in dtype promotion differently (float32 times a 0-D float64 tensor
        # is float32, einsum gives float64), and a scaled sum is no contraction anyway.
        raise ChainError("a 0-D factor")
    for value in (first, second):
        if value.ellipsis and len(value.labels) < min_trailing:
            materialize(value, min_trailing, False, chain, "elementwise product that is then summed")
    _align(first, second, chain, "elementwise product")
    if _expanded(first, second) and _expanded(second, first):
        # Each operand is broadcast along a dimension only the other has: the product is larger than
        # both inputs (an outer product), which einsum never materialises.
        chain.outer_product = True
    labels = _broadcast(first.labels, second.labels, chain)
    chain.multiplies += 1
    return Value(first.ellipsis or second.ellipsis, labels, None, first.contracted or second.contracted)


def matmul(first: Value, second: Value, chain: Chain, kind: str) -> Value:
    """torch.matmul semantics (``kind`` 'matmul'); 'bmm' and 'mm' fix both ranks (they raise otherwise)."""
    if kind == "bmm":
        fix_rank(first, 3, chain, True, "bmm")
        fix_rank(second, 3, chain, True, "bmm")
    elif kind == "mm":
        fix_rank(first, 2, chain, True, "mm")
        fix_rank(second, 2, chain, True, "mm")
    chain.matmuls += 1
    if kind == "bmm":
        chain.strict_pairs.extend((x, y, kind) for x, y in zip(first.labels[:1], second.labels[:1]))
    for value, other in ((first, second), (second, first)):
        if value.ellipsis and not other.ellipsis and len(other.labels) > 2 and chain.allow_ellipsis_conversion and _to_ellipsis(other):
            chain.converted_to_ellipsis = True
            # The explicit side's batch dimensions are its leading ones, in order: written as '...'
            # they broadcast against the other side's exactly as matmul's batch dimensions do.
            break
    for value, other in ((first, second), (second, first)):
        if value.ellipsis and not other.ellipsis and len(other.labels) > 2:
            # Explicit labels on both sides: a wrong rank then makes einsum raise.
            if value.leaf is not None and value.leaf.attribute_like:
                # self.proj.weight, self.rel_k: parameters and buffers are often 1-D or 2-D, and matmul
                # accepts operands of different ranks; assuming "same rank" there breaks working code.
                raise ChainError("an attribute operand of unknown rank beside a higher-rank one")
            fix_rank(
                value, len(other.labels), chain, False,
                f"{len(other.labels)}-D like the other matmul operand; matmul itself also accepts other ranks",
                category="matching-ranks",
            )  # fmt: skip
    if first.ellipsis and not second.ellipsis:
        if len(second.labels) != 2:
            raise ChainError("matmul of a value of unknown rank with a 0-D or 1-D one")
        # x @ W with W 2-D contracts x's last dimension for every rank of x >= 1.
        materialize(first, 1, True, chain, "matmul")
        a, b = first.labels, second.labels
        _contract(a[-1], b[0], chain)
        return Value(True, a[:-1] + [b[1]], None, True)
    if second.ellipsis and not first.ellipsis:
        if len(first.labels) != 2:
            raise ChainError("matmul of a non-2-D value with a value of unknown rank")
        materialize(second, 2, False, chain, "matmul operand")
        a, b = first.labels, second.labels
        _contract(a[1], b[-2], chain)
        return Value(True, b[:-2] + [a[0], b[-1]], None, True)
    if first.ellipsis and second.ellipsis:
        materialize(first, 2, False, chain, "matmul operand")
        materialize(second, 2, False, chain, "matmul operand")
        _align(first, second, chain, "matmul batch dimensions")
        a, b = first.labels, second.labels
        _contract(a[-1], b[-2], chain)
        batch = _broadcast(a[:-2], b[:-2], chain)
        return Value(True, batch + [a[-2], b[-1]], None, True)
    a, b = first.labels, second.labels
    if not a or not b:
        raise ChainError("matmul of a 0-D value")
    if len(a) == 1 and len(b) == 1:
        _contract(a[0], b[0], chain)
        return Value(False, [], None, True)
    if len(a) == 1:
        _contract(a[0], b[-2], chain)
        return Value(False, b[:-2] + [b[-1]], None, True)
    if len(b) == 1:
        _contract(a[-1], b[0], chain)
        return Value(False, a[:-1], None, True)
    _contract(a[-1], b[-2], chain)
    batch = _broadcast(a[:-2], b[:-2], chain)
    return Value(False, batch + [a[-2], b[-1]], None, True)


def _to_ellipsis(value: Value) -> bool:
    """Rewrite an explicit view of one leaf as '...' plus its two matrix labels, when its batch
    labels are exactly the leaf's leading labels in order (no permutation crossed them)."""
    leaf = value.leaf
    if leaf is None or value.ellipsis or leaf.ellipsis or any(label.find().unit for label in value.labels):
        return False
    if not leaf.rank_proven or leaf.rank_assumed_by is not None:
        # An assumed rank must stay explicit: explicit labels make a wrong assumption raise, while
        # '...' would silently read other dimensions as the matrix ones.
        return False
    batch = len(value.labels) - 2
    if len(leaf.labels) != len(value.labels) or [l.find() for l in value.labels[:batch]] != [l.find() for l in leaf.labels[:batch]]:
        return False
    leaf.labels = leaf.labels[batch:]
    leaf.ellipsis = True
    leaf.proven_min_rank = max(leaf.proven_min_rank, len(value.labels))
    value.labels = value.labels[batch:]
    value.ellipsis = True
    return True


def _contract(first: Label, second: Label, chain: Chain) -> None:
    chain.strict_pairs.append((first, second, "matmul"))
    if first.find().unit or second.find().unit:
        # (n, 1) @ (1, k) is an outer product in torch but would sum over a real dimension here.
        raise ChainError("contraction over an inserted size-1 dimension")
    chain.summed.append(unify(first, second))


def sum_over(value: Value, dims: list[int], chain: Chain) -> Value:
    if value.ellipsis:
        deepest = max((-d for d in dims if d < 0), default=0)
        materialize(value, deepest, True, chain, "sum")
    positions = {_position(value, d) for d in dims}
    if len(positions) != len(dims):
        raise ChainError("a dimension summed twice")
    kept = []
    for index, label in enumerate(value.labels):
        if index in positions:
            if not label.find().unit:
                chain.summed.append(label.find())
        else:
            kept.append(label)
    chain.sums += 1
    return Value(value.ellipsis, kept, None, True)


def unproven_size_matches(chain: Chain) -> list[str]:
    """The operands whose strictly matched dimensions (see ``Chain.strict_pairs``) the code does not
    prove equal in size, by the names messages use. Raises ChainError when it proves them different:
    the original raises there, and einsum might not."""
    sizes: dict[int, int | None] = {}
    owners: dict[int, Leaf] = {}
    # Where each label sits: (the operand's name, its index from the end); one name read twice in an
    # expression (``A.T @ A``) is one tensor, so the same dimension of it has the same size.
    places: dict[int, tuple[str, int]] = {}
    for leaf in chain.leaves:
        for index, label in enumerate(leaf.labels):
            owners[id(label)] = leaf
            if leaf.written.isidentifier():
                places[id(label)] = (leaf.written, index - len(leaf.labels))
            if leaf.shape is not None and not leaf.ellipsis and len(leaf.shape) == len(leaf.labels):
                sizes[id(label)] = leaf.shape[index]
    unproven: list[str] = []
    for first, second, _ in chain.strict_pairs:
        place = places.get(id(first))
        if place is not None and place == places.get(id(second)):
            continue
        size_first, size_second = sizes.get(id(first)), sizes.get(id(second))
        if size_first is not None and size_second is not None:
            if size_first != size_second:
                raise ChainError("the original raises: matched dimensions of different sizes")
            continue
        for label in (first, second):
            leaf = owners.get(id(label))
            shown = leaf.shown if leaf is not None else "an operand"
            if shown not in unproven:
                unproven.append(shown)
    return unproven
