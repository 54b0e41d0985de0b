"""One pre-order walk of a unit's concrete tree that feeds every applicable rule at once.

libcst's own ``visit`` rebuilds each node as it goes (it serves transformers too) and visits every
whitespace and comma; rules only read expressions, so this walk skips punctuation fields and runs about
ten times faster. A rule's ``visit_<Node>`` (or ``on_visit``) returning False skips that node's
children for that rule only, as in libcst.
"""

from __future__ import annotations

import dataclasses
from functools import cache

import libcst as cst

_PUNCTUATION = frozenset(
    {
        "lpar", "rpar", "comma", "semicolon", "trailing_whitespace", "leading_lines", "lbracket", "rbracket",
        "lbrace", "rbrace", "dot", "equal", "colon", "header", "footer", "operator", "newline", "indent",
        "asynchronous", "star_tok",
    }
)  # fmt: skip


# Per node type, its fields that may hold expressions, last first (the order they go on the stack).
_CHILD_FIELDS: dict[type, tuple[str, ...]] = {}
# Per type of a field's value, whether it is a node: isinstance against CSTNode goes through
# ABCMeta.__instancecheck__ on every call; this asks once per type.
_IS_NODE: dict[type, bool] = {}


def _child_fields_reversed(node_type: type) -> tuple[str, ...]:
    fields = tuple(field.name for field in dataclasses.fields(node_type) if field.name not in _PUNCTUATION and not field.name.startswith("whitespace"))
    _CHILD_FIELDS[node_type] = fields[::-1]
    return fields[::-1]


def _is_node_type(value_type: type) -> bool:
    _IS_NODE[value_type] = issubclass(value_type, cst.CSTNode)
    return _IS_NODE[value_type]


@cache
def _visit_method(visitor_type: type, node_type: type) -> str | None:
    """The name of the ``visit_<Node>`` method ``visitor_type`` defines for ``node_type``, or None
    when it only inherits libcst's empty one: calling that would change nothing."""
    name = f"visit_{node_type.__name__}"
    method = getattr(visitor_type, name, None)
    return None if method is None or method is getattr(cst.CSTVisitor, name, None) else name


# Per combination of rule classes, per node type: which rules to call, as (rule index, method name).
_DISPATCH: dict[tuple[type, ...], dict[type, tuple[tuple[int, str], ...]]] = {}


def _handlers(visitor_types: tuple[type, ...], node_type: type) -> tuple[tuple[int, str], ...]:
    handlers = []
    for index, visitor_type in enumerate(visitor_types):
        # A rule that overrides on_visit sees every node; the others only the nodes they have a method for.
        if visitor_type.on_visit is not cst.CSTVisitor.on_visit:
            handlers.append((index, "on_visit"))
        else:
            method = _visit_method(visitor_type, node_type)
            if method is not None:
                handlers.append((index, method))
    return tuple(handlers)


def walk(root: cst.CSTNode, visitors: list[cst.CSTVisitor]) -> None:
    visitor_types = tuple(type(visitor) for visitor in visitors)
    dispatch = _DISPATCH.setdefault(visitor_types, {})
    # Rule index -> the depth of the node whose children it declined; while set, the walk is inside
    # that node's subtree (the stack hands out a subtree's nodes one after another).
    pruned_at: dict[int, int] = {}
    stack: list[tuple[cst.CSTNode, int]] = [(root, 0)]
    while stack:
        node, depth = stack.pop()
        node_type = type(node)
        if pruned_at:
            for index in [index for index, mark in pruned_at.items() if depth <= mark]:
                del pruned_at[index]
        handlers = dispatch.get(node_type)
        if handlers is None:
            handlers = dispatch[node_type] = _handlers(visitor_types, node_type)
        for index, method in handlers:
            if index not in pruned_at and getattr(visitors[index], method)(node) is False:
                pruned_at[index] = depth
        # The children go on the stack last first, so that they come off in source order.
        fields = _CHILD_FIELDS.get(node_type)
        if fields is None:
            fields = _child_fields_reversed(node_type)
        depth += 1
        for name in fields:
            value = getattr(node, name)
            value_type = type(value)
            is_node = _IS_NODE.get(value_type)
            if is_node is None:
                is_node = _is_node_type(value_type)
            if is_node:
                stack.append((value, depth))
            elif isinstance(value, (list, tuple)):
                for item in reversed(value):
                    item_type = type(item)
                    item_is_node = _IS_NODE.get(item_type)
                    if item_is_node if item_is_node is not None else _is_node_type(item_type):
                        stack.append((item, depth))
