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


@cache
def _child_fields(node_type: type) -> tuple[str, ...]:
    return tuple(field.name for field in dataclasses.fields(node_type) if field.name not in _PUNCTUATION and not field.name.startswith("whitespace"))


@cache
def _is_node_type(value_type: type) -> bool:
    # isinstance against CSTNode goes through ABCMeta.__instancecheck__ on every call; per type, once.
    return issubclass(value_type, cst.CSTNode)


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
        children: list[cst.CSTNode] = []
        for name in _child_fields(node_type):
            value = getattr(node, name)
            if _is_node_type(type(value)):
                children.append(value)
            elif isinstance(value, (list, tuple)):
                children.extend(item for item in value if _is_node_type(type(item)))
        stack.extend((child, depth + 1) for child in reversed(children))
