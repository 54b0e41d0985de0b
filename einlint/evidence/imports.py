"""Resolve local names to the qualified names they were imported as (``t.einsum`` -> ``torch.einsum``),
and only where the import table can be trusted: a name the module also binds another way (``def
matmul``, ``matmul = ...``, ``del``, a ``global`` statement, a later star import) or imports only under
``if TYPE_CHECKING:`` is not resolved at all.

Nor is a torch function the module replaces (``torch.randn = f``, ``setattr(torch, "randn", f)``,
``del torch.randn``, anywhere in the file); and where it replaces an attribute of ``torch.Tensor``
(``torch.Tensor.__matmul__ = f``), which changes what every tensor's methods and operators do, no torch
name is resolved: the module is read as one that does not use torch. A patch made by another module is
not seen."""

from __future__ import annotations

import ast
from dataclasses import dataclass, field

from einlint.evidence.syntax_walk import BLOCK_STATEMENTS, code_nodes

# Other spellings of the same callables, folded onto one canonical qualified name.
CANONICAL_NAMES = {
    "torch.functional.einsum": "torch.einsum",
    "torch._VF.einsum": "torch.einsum",
    "torch.Tensor.matmul": "torch.matmul",
}


@dataclass
class ImportTable:
    """Local alias -> qualified name, from every import statement in a module (at any depth: local
    imports inside functions are common in model code and are honoured too)."""

    aliases: dict[str, str] = field(default_factory=dict)
    # Aliases bound by an import that runs whenever the module is imported: a top-level statement of
    # the module, not inside ``if``/``try``/``with``/a loop. Alias -> the line of the first such import.
    unconditional: dict[str, int] = field(default_factory=dict)
    # Qualified names of torch functions the module replaces; "torch.Tensor" when it replaces a
    # tensor attribute (every torch name is then unresolved).
    patched: frozenset[str] = frozenset()

    @classmethod
    def from_module(cls, tree: ast.Module) -> ImportTable:
        table = cls()
        conflicting: set[str] = set()
        for node in _import_statements(tree.body):
            for alias, target in _bound_aliases(node):
                known = table.aliases.setdefault(alias, target)
                if known != target:
                    conflicting.add(alias)
        declared, stores = _global_names_and_attribute_stores(tree)
        rebound = _names_rebound_at_module_level(tree) | declared | conflicting
        for alias in rebound:
            table.aliases.pop(alias, None)
        for statement in tree.body:
            if isinstance(statement, (ast.Import, ast.ImportFrom)):
                for alias, _ in _bound_aliases(statement):
                    if alias in table.aliases:
                        table.unconditional.setdefault(alias, statement.lineno)
        if stores and table.imports_module("torch"):
            table.patched = _patched_torch_names(stores, table)
        return table

    def qualify(self, dotted: str) -> str | None:
        """The qualified name of a dotted local reference, or None when its root was not imported."""
        root, _, rest = dotted.partition(".")
        target = self.aliases.get(root)
        if target is None:
            return None
        name = f"{target}.{rest}" if rest else target
        if self.patched and (name in self.patched or ("torch.Tensor" in self.patched and name.split(".")[0] == "torch")):
            return None
        return CANONICAL_NAMES.get(name, name)

    def without(self, names: frozenset[str]) -> ImportTable:
        """This table as seen from a scope that binds ``names`` itself (a parameter, a local)."""
        hidden = names & self.aliases.keys()
        if not hidden:
            return self
        return ImportTable(
            {alias: target for alias, target in self.aliases.items() if alias not in hidden},
            {alias: line for alias, line in self.unconditional.items() if alias not in hidden},
            self.patched,
        )

    def aliases_of(self, leaf_names: frozenset[str]) -> frozenset[str]:
        """Local names bound to an imported object whose own name is in ``leaf_names`` under another
        name (``from torch import einsum as es`` -> ``es``)."""
        return frozenset(
            alias for alias, target in self.aliases.items()
            if target.rsplit(".", 1)[-1] in leaf_names and alias != target.rsplit(".", 1)[-1]
        )  # fmt: skip

    def imports_module(self, module: str) -> bool:
        return any(target == module or target.startswith(module + ".") for target in self.aliases.values())


def _bound_aliases(node: ast.Import | ast.ImportFrom) -> list[tuple[str, str]]:
    """(local name, qualified target) for each name an import statement binds."""
    bound = []
    if isinstance(node, ast.Import):
        for alias in node.names:
            if alias.asname:
                bound.append((alias.asname, alias.name))
            else:
                top = alias.name.split(".")[0]
                bound.append((top, top))  # ``import torch.nn.functional`` binds ``torch``
    elif node.level == 0 and node.module:
        for alias in node.names:
            if alias.name != "*":
                bound.append((alias.asname or alias.name, f"{node.module}.{alias.name}"))
    return bound


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _import_statements(body: list[ast.stmt]):
    """Import statements anywhere in the statement tree that run at all (not the body of ``if
    TYPE_CHECKING:``); expressions are never entered (cheap)."""
    stack = list(body)
    while stack:
        node = stack.pop()
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield node
            continue
        if type(node) not in BLOCK_STATEMENTS:
            continue  # a simple statement holds no other
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            stack.extend(node.orelse)
            continue
        for block in ("body", "orelse", "finalbody"):
            stack.extend(getattr(node, block, ()))
        for handler in getattr(node, "handlers", ()):
            stack.extend(handler.body)
        for case in getattr(node, "cases", ()):
            stack.extend(case.body)


def _names_rebound_at_module_level(tree: ast.Module) -> set[str]:
    """Names the module's own code binds other than by importing them: ``def``/``class``, assignments,
    loop and ``with`` targets, ``except ... as``, ``del``; and, for a star import of anything but torch,
    every name imported before it (the star import may rebind any of them)."""
    rebound: set[str] = set()
    imported_so_far: set[str] = set()
    stack: list[ast.stmt] = list(reversed(tree.body))
    while stack:
        node = stack.pop()
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            if isinstance(node, ast.ImportFrom) and any(alias.name == "*" for alias in node.names):
                if (node.module or "").split(".")[0] != "torch" or node.level:
                    rebound |= imported_so_far
            imported_so_far.update(alias for alias, _ in _bound_aliases(node))
            continue
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            rebound.add(node.name)
            continue
        rebound.update(_non_import_targets(node))
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            children = list(node.orelse)
        else:
            children = [*getattr(node, "body", ()), *getattr(node, "orelse", ()), *getattr(node, "finalbody", ())]
            for handler in getattr(node, "handlers", ()):
                if handler.name:
                    rebound.add(handler.name)
                children.extend(handler.body)
            for case in getattr(node, "cases", ()):
                rebound.update(_pattern_names(case.pattern))
                children.extend(case.body)
        stack.extend(reversed(children))
    return rebound


def _non_import_targets(statement: ast.stmt) -> set[str]:
    targets: list[ast.expr] = []
    if isinstance(statement, ast.Assign):
        targets = list(statement.targets)
    elif isinstance(statement, (ast.AugAssign, ast.AnnAssign)):
        targets = [statement.target]
    elif isinstance(statement, (ast.For, ast.AsyncFor)):
        targets = [statement.target]
    elif isinstance(statement, (ast.With, ast.AsyncWith)):
        targets = [item.optional_vars for item in statement.items if item.optional_vars is not None]
    elif isinstance(statement, ast.Delete):
        targets = list(statement.targets)
    names = {name for target in targets for name in _target_names(target)}
    # A walrus at module level binds a module name too.
    for field_name, value in ast.iter_fields(statement):
        if field_name in ("body", "orelse", "finalbody", "handlers", "cases"):
            continue
        for item in value if isinstance(value, list) else [value]:
            if isinstance(item, ast.AST):
                names.update(n.target.id for n in code_nodes(item) if isinstance(n, ast.NamedExpr) and isinstance(n.target, ast.Name))
    return names


def _target_names(target: ast.expr):
    """Names an assignment target binds (not the ``x`` of ``x.attr = ...`` or ``x[i] = ...``)."""
    if isinstance(target, ast.Name):
        yield target.id
    elif isinstance(target, (ast.Tuple, ast.List)):
        for element in target.elts:
            yield from _target_names(element)
    elif isinstance(target, ast.Starred):
        yield from _target_names(target.value)


def _pattern_names(pattern: ast.AST) -> set[str]:
    names = set()
    for node in ast.walk(pattern):
        captured = getattr(node, "name", None) or getattr(node, "rest", None)
        if isinstance(captured, str):
            names.add(captured)
    return names


def _global_names_and_attribute_stores(tree: ast.Module) -> tuple[set[str], list[tuple[ast.expr, str]]]:
    """Names some function declares ``global`` (it may rebind the module's name at any time); and
    (owner, attribute) for each attribute a statement anywhere replaces: an assignment, augmented
    assignment or ``del`` of it, or a ``setattr``/``delattr`` call statement with a literal name."""
    names: set[str] = set()
    stores: list[tuple[ast.expr, str]] = []
    stack: list[ast.stmt] = list(tree.body)
    while stack:
        node = stack.pop()
        kind = type(node)
        if kind is ast.Global:
            names.update(node.names)  # type: ignore[attr-defined]
            continue
        if kind is ast.Assign or kind is ast.Delete:
            targets = list(node.targets)  # type: ignore[attr-defined]
            while targets:
                target = targets.pop()
                if type(target) is ast.Attribute:
                    stores.append((target.value, target.attr))
                elif isinstance(target, (ast.Tuple, ast.List)):
                    targets.extend(target.elts)
            continue
        if kind is ast.AugAssign or kind is ast.AnnAssign:
            target = node.target  # type: ignore[attr-defined]
            if type(target) is ast.Attribute:
                stores.append((target.value, target.attr))
            continue
        if kind is ast.Expr:
            call = node.value  # type: ignore[attr-defined]
            if type(call) is ast.Call and type(call.func) is ast.Name and call.func.id in _ATTRIBUTE_SETTERS and len(call.args) >= 2:
                name = call.args[1]
                if isinstance(name, ast.Constant) and isinstance(name.value, str):
                    stores.append((call.args[0], name.value))
            continue
        if type(node) not in BLOCK_STATEMENTS:
            continue
        for block in ("body", "orelse", "finalbody"):
            stack.extend(getattr(node, block, ()))
        for handler in getattr(node, "handlers", ()):
            stack.extend(handler.body)
        for case in getattr(node, "cases", ()):
            stack.extend(case.body)
    return names, stores


# Modules whose functions a replacement changes for every caller; a store into another torch module
# (``torch.backends.cudnn.benchmark = True``) is a setting, not a replaced function.
_FUNCTION_MODULES = frozenset({"torch", "torch.nn.functional", "torch.linalg", "torch.fft", "torch.special"})
_ATTRIBUTE_SETTERS = frozenset({"setattr", "delattr"})


def _patched_torch_names(stores: list[tuple[ast.expr, str]], table: ImportTable) -> frozenset[str]:
    """The torch functions (``torch.randn``), and ``torch.Tensor``, that the module's attribute
    stores replace."""
    patched: set[str] = set()
    for owner, attribute in stores:
        dotted = dotted_name(owner)
        root, _, rest = (dotted or "").partition(".")
        target = table.aliases.get(root)
        if target is None:
            continue
        module = f"{target}.{rest}" if rest else target
        if module == "torch.Tensor" or module.startswith("torch.Tensor."):
            patched.add("torch.Tensor")
        elif module in _FUNCTION_MODULES:
            patched.add(f"{module}.{attribute}")
    return frozenset(patched)


def dotted_name(node: ast.expr) -> str | None:
    """``a.b.c`` for a chain of attributes on a name, else None."""
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return None
    parts.append(node.id)
    return ".".join(reversed(parts))
