"""Attributes the code reads from a value that a torch tensor does not have.

``K.add_jitter(1e-3)``, ``K.root_decomposition()``, ``K.evaluate_kernel()``: a value used like this is
not a torch.Tensor but some other class, typically a structured or lazy matrix (gpytorch's
LinearOperator) that supports ``@``, ``.mT`` and ``.transpose`` but not ``torch.einsum``. Where the
same scope reads such an attribute from an operand, a fix that assumes the operand is a tensor is
withdrawn. The attributes torch.Tensor has come from ``dir(torch.Tensor)`` at development time
(evidence.tensor_attributes); einlint never imports torch.
"""

from __future__ import annotations

import ast

from einlint.evidence.imports import dotted_name
from einlint.evidence.tensor_attributes import TENSOR_ATTRIBUTES

# Builtins that read an attribute named by a string: ``hasattr(K, "evaluate")`` asks the same question.
_ATTRIBUTE_BUILTINS = frozenset({"getattr", "hasattr"})
# Attributes that are a view of the same value (not ``.data`` or ``.grad``, which a module may name too).
_REORDERING_ATTRIBUTES = frozenset({"T", "mT", "H", "mH"})
MAX_SHOWN = 40  # longest operand text quoted in a message
_NESTED_SCOPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)


def attributes_tensors_lack(scope: ast.AST) -> dict[str, tuple[str, ...]]:
    """For each value written as a dotted name in ``scope`` (``K``, ``self.covar``), the attributes
    the scope reads from it that torch.Tensor lacks, in the order the code first reads them. Nested
    functions and classes are left out: their names are their own. Assignments to an attribute
    (``x.tag = 1``, which a tensor accepts) do not count."""
    found: dict[str, dict[str, None]] = {}
    for node in _own_nodes(scope):
        if isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Load):
            receiver, attribute = node.value, node.attr
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id in _ATTRIBUTE_BUILTINS
            and len(node.args) >= 2
            and isinstance(node.args[1], ast.Constant)
            and isinstance(node.args[1].value, str)
        ):
            receiver, attribute = node.args[0], node.args[1].value
        else:
            continue
        if attribute in TENSOR_ATTRIBUTES:
            continue
        owner = dotted_name(receiver)
        if owner is not None:
            found.setdefault(owner, {})[attribute] = None
    return {owner: tuple(attributes) for owner, attributes in found.items()}


def operand_root(node: ast.expr) -> str | None:
    """The value an operand is computed from by tensor methods alone, as a dotted name:
    ``covar.view(3, 4)``, ``covar.mT`` and ``covar.float()`` are all read from ``covar``. A method a
    tensor lacks (``covar.evaluate()``) or any other call (``self.proj(x)``) ends the walk: what it
    returns is another value, and None is returned."""
    while True:
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in TENSOR_ATTRIBUTES:
            node = node.func.value
        elif isinstance(node, ast.Attribute) and node.attr in _REORDERING_ATTRIBUTES:
            node = node.value
        else:
            return dotted_name(node)


def _own_nodes(scope: ast.AST):
    """The nodes of ``scope``'s own code: its body (a function's decorators, defaults and annotations
    run outside it) without nested scopes."""
    body = getattr(scope, "body", [])
    pending = list(reversed(body)) if isinstance(body, list) else [body]
    while pending:
        node = pending.pop()
        yield node
        if isinstance(node, _NESTED_SCOPES):
            continue
        pending.extend(reversed(list(ast.iter_child_nodes(node))))


def another_class(shown: str, attributes: tuple[str, ...]) -> str:
    """Why a fix is withdrawn from an operand the code uses as another class than a tensor."""
    listed = ", ".join(f"`.{attribute}`" for attribute in attributes[:3])
    flat = " ".join(shown.split())
    shown = flat if len(flat) <= MAX_SHOWN else flat[: MAX_SHOWN - 3] + "..."
    return (
        f"{shown} is used with {listed}, which a torch tensor lacks: it is another class (a structured matrix, say), and the rewrite is proven for tensors only"
    )
