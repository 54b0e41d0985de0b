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


def walk(root: cst.CSTNode, visitors: list[cst.CSTVisitor]) -> None:
    pruned_at: list[int | None] = [None] * len(visitors)
    # A rule that overrides on_visit sees every node; the others only the nodes they have a method for.
    own_on_visit = [type(visitor).on_visit is not cst.CSTVisitor.on_visit for visitor in visitors]
    stack: list[tuple[cst.CSTNode, int]] = [(root, 0)]
    while stack:
        node, depth = stack.pop()
        node_type = type(node)
        for index, visitor in enumerate(visitors):
            mark = pruned_at[index]
            if mark is not None:
                if depth > mark:
                    continue
                pruned_at[index] = None
            if own_on_visit[index]:
                if visitor.on_visit(node) is False:
                    pruned_at[index] = depth
                continue
            method = _visit_method(type(visitor), node_type)
            if method is not None and getattr(visitor, method)(node) is False:
                pruned_at[index] = depth
        children: list[cst.CSTNode] = []
        for name in _child_fields(node_type):
            value = getattr(node, name)
            if _is_node_type(type(value)):
                children.append(value)
            elif isinstance(value, (list, tuple)):
                children.extend(item for item in value if _is_node_type(type(item)))
        stack.extend((child, depth + 1) for child in reversed(children))
