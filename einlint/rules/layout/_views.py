"""Recognise a view that only reorders dimensions (transpose, permute, .T, .mT, movedim) and fold
it into the einsum term of the operand it produces."""

from __future__ import annotations

from dataclasses import dataclass

import libcst as cst

from einlint.engine.context import RuleContext
from einlint.equation.model import ELLIPSIS, Term
from einlint.rewrite.literals import literal_int, literal_int_sequence

TRANSPOSE_NAMES = frozenset({"transpose", "swapaxes", "swapdims"})
COPY_METHODS = frozenset({"contiguous", "clone"})


@dataclass(frozen=True)
class ReorderingView:
    """``receiver`` viewed with its dimensions reordered; ``spec`` says how."""

    node: cst.BaseExpression  # the whole view expression
    receiver: cst.BaseExpression
    kind: str  # "transpose", "permute", "T", "mT", "movedim"
    dims: tuple[int, ...]


def reordering_view(node: cst.BaseExpression, context: RuleContext) -> ReorderingView | None:
    if isinstance(node, cst.Attribute) and node.attr.value in ("T", "mT") and context.qualified_name(node) is None:
        return ReorderingView(node, node.value, node.attr.value, ())
    if not isinstance(node, cst.Call):
        return None
    qualified = context.qualified_name(node.func)
    args = node.args
    if qualified is not None:
        name = qualified.removeprefix("torch.")
        if not qualified.startswith("torch.") or not args or args[0].keyword or args[0].star:
            return None
        receiver, rest = args[0].value, args[1:]
    elif isinstance(node.func, cst.Attribute):
        name, receiver, rest = node.func.attr.value, node.func.value, args
    else:
        return None
    if name in TRANSPOSE_NAMES:
        dims = _int_args(rest, ("dim0", "dim1"))
        return ReorderingView(node, receiver, "transpose", dims) if dims and len(dims) == 2 else None
    if name == "permute":
        sequence = literal_int_sequence(rest[0].value) if len(rest) == 1 else None
        dims = tuple(sequence) if sequence else _int_args(rest, ())
        return ReorderingView(node, receiver, "permute", dims) if dims else None
    if name == "movedim":
        dims = _int_args(rest, ("source", "destination"))
        return ReorderingView(node, receiver, "movedim", dims) if dims and len(dims) == 2 else None
    return None


def copied_view(node: cst.BaseExpression, context: RuleContext) -> tuple[str, ReorderingView] | None:
    """``<view>.contiguous()`` or ``<view>.clone()`` with no arguments: (copy method, the view)."""
    if not (isinstance(node, cst.Call) and isinstance(node.func, cst.Attribute) and not node.args):
        return None
    method = node.func.attr.value
    if method not in COPY_METHODS:
        return None
    view = reordering_view(node.func.value, context)
    return (method, view) if view is not None else None


def fold_into_term(view: ReorderingView, term: Term) -> list[str] | None:
    """The receiver's labels, in ``term``'s label slots, such that the receiver under ``term``'s new
    labels means what the view meant under ``term``; None when the term does not pin the positions."""
    labels = list(term.labels)
    if term.ellipsis_count > 1:
        return None
    split = labels.index(ELLIPSIS) if ELLIPSIS in labels else None
    before = labels if split is None else labels[:split]
    after = [] if split is None else labels[split + 1 :]

    def slot(dim: int) -> int | None:
        """Index into ``labels`` of dimension ``dim`` of the view."""
        if split is None:
            rank = len(labels)
            return dim % rank if -rank <= dim < rank else None
        if 0 <= dim < len(before):
            return dim
        if -len(after) <= dim < 0:
            return len(labels) + dim
        return None

    if view.kind == "T":
        return [labels[1], labels[0]] if split is None and len(labels) == 2 else None
    if view.kind == "mT":
        first, second = slot(-2), slot(-1)
        if first is None or second is None:
            return None
        labels[first], labels[second] = labels[second], labels[first]
        return labels
    if view.kind == "transpose":
        first, second = slot(view.dims[0]), slot(view.dims[1])
        if first is None or second is None:
            return None
        labels[first], labels[second] = labels[second], labels[first]
        return labels
    if split is not None:
        return None  # permute and movedim need every dimension to have a label
    rank = len(labels)
    if view.kind == "permute":
        order = [d % rank for d in view.dims] if all(-rank <= d < rank for d in view.dims) else []
        if len(order) != rank or sorted(order) != list(range(rank)):
            return None
    else:  # movedim(source, destination)
        source, destination = view.dims
        if not (-rank <= source < rank and -rank <= destination < rank):
            return None
        rest = [d for d in range(rank) if d != source % rank]
        rest.insert(destination % rank, source % rank)
        order = rest
    # view dim k is receiver dim order[k], so the receiver's dim order[k] carries label k.
    receiver = [""] * rank
    for position, source_dim in enumerate(order):
        receiver[source_dim] = labels[position]
    return receiver


def _int_args(args, keywords: tuple[str, ...]) -> tuple[int, ...] | None:
    """Literal integer arguments in parameter order; ``keywords`` names the parameters, so that
    ``movedim(x, destination=3, source=1)`` reads as (1, 3)."""
    values: dict[int, int] = {}
    for index, arg in enumerate(args):
        if arg.star:
            return None
        if arg.keyword is None:
            slot = index
        elif arg.keyword.value in keywords:
            slot = keywords.index(arg.keyword.value)
        else:
            return None
        value = literal_int(arg.value)
        if value is None or slot in values:
            return None
        values[slot] = value
    if sorted(values) != list(range(len(values))):
        return None
    return tuple(values[slot] for slot in range(len(values)))
