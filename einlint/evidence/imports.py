"""Resolve local names to the qualified names they were imported as (``t.einsum`` -> ``torch.einsum``)."""

from __future__ import annotations

import ast
from dataclasses import dataclass, field

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

    @classmethod
    def from_module(cls, tree: ast.Module) -> ImportTable:
        table = cls()
        for node in _import_statements(tree.body):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.asname:
                        table.aliases[alias.asname] = alias.name
                    else:
                        top = alias.name.split(".")[0]
                        table.aliases[top] = top
            elif node.level == 0 and node.module:
                for alias in node.names:
                    if alias.name != "*":
                        table.aliases[alias.asname or alias.name] = f"{node.module}.{alias.name}"
        return table

    def qualify(self, dotted: str) -> str | None:
        """The qualified name of a dotted local reference, or None when its root was not imported."""
        root, _, rest = dotted.partition(".")
        target = self.aliases.get(root)
        if target is None:
            return None
        name = f"{target}.{rest}" if rest else target
        return CANONICAL_NAMES.get(name, name)

    def aliases_of(self, leaf_names: frozenset[str]) -> frozenset[str]:
        """Local names bound to an imported object whose own name is in ``leaf_names`` under another
        name (``from torch import einsum as es`` -> ``es``)."""
        return frozenset(
            alias for alias, target in self.aliases.items()
            if target.rsplit(".", 1)[-1] in leaf_names and alias != target.rsplit(".", 1)[-1]
        )  # fmt: skip

    def imports_module(self, module: str) -> bool:
        return any(target == module or target.startswith(module + ".") for target in self.aliases.values())


def _import_statements(body: list[ast.stmt]):
    """Import statements anywhere in the statement tree; expressions are never entered (cheap)."""
    stack = list(body)
    while stack:
        node = stack.pop()
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield node
            continue
        for name in ("body", "orelse", "finalbody"):
            stack.extend(getattr(node, name, ()))
        for handler in getattr(node, "handlers", ()):
            stack.extend(handler.body)
        for case in getattr(node, "cases", ()):
            stack.extend(case.body)
