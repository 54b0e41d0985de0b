"""Python's scopes as far as name resolution needs them: which functions enclose a function, and which
names a function binds itself (so that an import of the same name is hidden there)."""

from __future__ import annotations

import ast

from einlint.evidence.operands import block_bindings

FUNCTIONS = (ast.FunctionDef, ast.AsyncFunctionDef)


def outer_functions(tree: ast.Module) -> dict[int, tuple[ast.AST, ...]]:
    """id of each function -> the functions around it, outermost first. Class bodies are skipped: a
    method does not see its class's names, so a class is no scope for the names a method reads."""
    result: dict[int, tuple[ast.AST, ...]] = {}
    stack: list[tuple[ast.stmt, tuple[ast.AST, ...]]] = [(statement, ()) for statement in tree.body]
    while stack:
        node, outer = stack.pop()
        inner = outer
        if isinstance(node, FUNCTIONS):
            result[id(node)] = outer
            inner = (*outer, node)
        for name in ("body", "orelse", "finalbody"):
            stack.extend((child, inner) for child in getattr(node, name, ()))
        for handler in getattr(node, "handlers", ()):
            stack.extend((child, inner) for child in handler.body)
        for case in getattr(node, "cases", ()):
            stack.extend((child, inner) for child in case.body)
    return result


def names_bound_other_than_by_import(function: ast.AST, has_walrus: bool = True) -> frozenset[str]:
    """Parameters and the names ``function``'s body binds by anything but an import statement
    (``nonlocal`` and ``global`` included: the name is then not the import's in this function)."""
    names: set[str] = set()
    arguments = getattr(function, "args", None)
    if arguments is not None:
        every = [*arguments.posonlyargs, *arguments.args, *arguments.kwonlyargs]
        every += [a for a in (arguments.vararg, arguments.kwarg) if a is not None]
        names.update(argument.arg for argument in every)
    body = function.body if isinstance(function.body, list) else []
    for statement, name in block_bindings(body, has_walrus):
        if not isinstance(statement, (ast.Import, ast.ImportFrom)):
            names.add(name)
    return frozenset(names)
