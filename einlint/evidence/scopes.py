"""Python's scopes as far as name resolution needs them: which functions enclose a function, and which
names a function binds itself (so that an import of the same name is hidden there)."""

from __future__ import annotations

import ast

from einlint.evidence.operands import block_bindings
from einlint.evidence.syntax_walk import BLOCK_STATEMENTS

FUNCTIONS = (ast.FunctionDef, ast.AsyncFunctionDef)


def outer_functions(tree: ast.Module) -> dict[int, tuple[ast.AST, ...]]:
    """id of each function -> the functions around it, outermost first. Class bodies are skipped: a
    method does not see its class's names, so a class is no scope for the names a method reads."""
    result: dict[int, tuple[ast.AST, ...]] = {}
    stack: list[tuple[ast.stmt, tuple[ast.AST, ...]]] = [(statement, ()) for statement in tree.body if type(statement) in BLOCK_STATEMENTS]
    while stack:
        node, outer = stack.pop()
        inner = outer
        if isinstance(node, FUNCTIONS):
            result[id(node)] = outer
            inner = (*outer, node)
        blocks = [getattr(node, name, ()) for name in ("body", "orelse", "finalbody")]
        blocks.extend(handler.body for handler in getattr(node, "handlers", ()))
        blocks.extend(case.body for case in getattr(node, "cases", ()))
        # A simple statement holds no function: only statements with blocks are entered.
        stack.extend((child, inner) for block in blocks for child in block if type(child) in BLOCK_STATEMENTS)
    return result


def names_bound_other_than_by_import(function: ast.AST, has_walrus: bool = True, bound_names: dict[int, tuple[str, ...]] | None = None) -> frozenset[str]:
    """Parameters and the names ``function``'s body binds by anything but an import statement
    (``nonlocal`` and ``global`` included: the name is then not the import's in this function).
    ``bound_names``: see operands.block_bindings."""
    names: set[str] = set()
    arguments = getattr(function, "args", None)
    if arguments is not None:
        every = [*arguments.posonlyargs, *arguments.args, *arguments.kwonlyargs]
        every += [a for a in (arguments.vararg, arguments.kwarg) if a is not None]
        names.update(argument.arg for argument in every)
    body = function.body if isinstance(function.body, list) else []
    for statement, name in block_bindings(body, has_walrus, bound_names):
        if not isinstance(statement, (ast.Import, ast.ImportFrom)):
            names.add(name)
    return frozenset(names)
