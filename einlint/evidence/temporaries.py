"""Single-use temporaries that a chain may absorb: ``kt = k.transpose(-1, -2)`` followed by one use
``q @ kt``. Folding moves the view to its use, so it is allowed only when moving it cannot change what
it computes: the temporary is bound once and used once, its definition dominates the use, it is made
only of names and reordering views (no calls with effects, no attribute reads that could change), and
none of the names it reads is rebound after it."""

from __future__ import annotations

import ast

from einlint.evidence.operands import FunctionFacts

# Methods and attributes that only reorder or expose dimensions: moving them cannot have an effect.
VIEW_METHODS = frozenset({"transpose", "swapaxes", "swapdims", "permute", "t", "unsqueeze", "movedim"})
VIEW_ATTRIBUTES = frozenset({"T", "mT"})


def foldable_definition(
    function: ast.AST, facts: FunctionFacts, name: str, use_chain: list[tuple[int, int]]
) -> ast.Assign | None:
    entry = facts.names.get(name)
    if entry is None or len(entry.bindings) != 1:
        return None
    definition = entry.bindings[0]
    if not (
        isinstance(definition, ast.Assign)
        and len(definition.targets) == 1
        and isinstance(definition.targets[0], ast.Name)
        and facts.dominates(definition, use_chain)
    ):
        return None
    if not _is_pure_view(definition.value):
        return None
    for read in (node.id for node in ast.walk(definition.value) if isinstance(node, ast.Name)):
        bindings = facts.names.get(read)
        if bindings is None:
            return None  # a global or builtin: it could change between definition and use
        if any(getattr(binding, "lineno", 0) > definition.lineno or binding is definition for binding in bindings.bindings):
            return None
        if len(bindings.bindings) > 1:
            return None
    loads = sum(1 for node in ast.walk(function) if isinstance(node, ast.Name) and node.id == name and isinstance(node.ctx, ast.Load))
    return definition if loads == 1 else None


def _is_pure_view(node: ast.expr) -> bool:
    """A name under reordering views with literal integer arguments, and nothing else."""
    while True:
        if isinstance(node, ast.Name):
            return True
        if isinstance(node, ast.Attribute) and node.attr in VIEW_ATTRIBUTES:
            node = node.value
            continue
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in VIEW_METHODS
            and not node.keywords
            and all(_is_int_literal(arg) for arg in node.args)
        ):
            node = node.func.value
            continue
        return False


def _is_int_literal(node: ast.expr) -> bool:
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        node = node.operand
    return isinstance(node, ast.Constant) and type(node.value) is int
