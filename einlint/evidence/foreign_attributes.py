"""Attributes the code reads from a value that a torch tensor does not have.

``K.add_jitter(1e-3)``, ``K.root_decomposition()``, ``K.evaluate_kernel()``: a value used like this is
not a torch.Tensor but some other class, typically a structured or lazy matrix (gpytorch's
LinearOperator) that supports ``@``, ``.mT`` and ``.transpose`` but not ``torch.einsum``. Where the
same scope reads such an attribute from an operand, a fix that assumes the operand is a tensor is
withdrawn. The attributes torch.Tensor has come from ``dir(torch.Tensor)`` at development time
(evidence.tensor_attributes); einlint never imports torch.

The same holds for ``self`` in a method of a class that provably does not derive from torch.Tensor
(``class LinearOperator(object)`` defining ``def _t_matmul(self, other): return self.mT.matmul(other)``):
``self`` is an instance of that class, whatever it supports.
"""

from __future__ import annotations

import ast
from collections.abc import Callable

from einlint.evidence.imports import dotted_name
from einlint.evidence.syntax_walk import code_nodes
from einlint.evidence.stability import replaces_tensor
from einlint.evidence.tensor_attributes import TENSOR_ATTRIBUTES

# Builtins that read an attribute named by a string: ``hasattr(K, "evaluate")`` asks the same question.
_ATTRIBUTE_BUILTINS = frozenset({"getattr", "hasattr"})
# Attributes that are a view of the same value (not ``.data`` or ``.grad``, which a module may name too).
_REORDERING_ATTRIBUTES = frozenset({"T", "mT", "H", "mH"})
ASSIGNED = " = ..."  # marks an attribute the code assigns rather than reads
MAX_SHOWN = 40  # longest operand text quoted in a message
_NESTED_SCOPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)


def attributes_tensors_lack(scope: ast.AST, may_read_attributes: Callable[[int, int], bool] | None = None) -> dict[str, tuple[str, ...]]:
    """For each value written as a dotted name in ``scope`` (``K``, ``self.covar``), the attributes
    the scope reads from it that torch.Tensor lacks, in the order the code first reads them. Nested
    functions and classes are left out: their names are their own. Assignments to an attribute
    (``x.tag = 1``, which a tensor accepts) do not count, except to one that replaces what the tensor
    is (``x.permute = f``, ``x.__class__ = C``: see evidence.stability), listed as ``permute = ...``.

    ``may_read_attributes(first, last)``, when given, is False for a range of lines that holds no
    attribute read nor ``getattr``/``hasattr`` call (see ``may_read_attribute``): statements there
    are not walked, which on a long function mostly of plain arithmetic is most of the walk."""
    found: dict[str, dict[str, None]] = {}
    for node in _own_nodes(scope, may_read_attributes):
        if isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Load):
            receiver, attribute = node.value, node.attr
        elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store) and node.attr != "data" and replaces_tensor(node.attr):
            owner = dotted_name(node.value)
            if owner is not None:
                found.setdefault(owner, {})[node.attr + ASSIGNED] = None
            continue
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


def may_read_attribute(line: str) -> bool:
    """Could code on this physical line read an attribute? Not without a ``.`` (an attribute's dot
    lies between the first and the last line of the expression, so on one of them) or the name of
    a builtin that reads one; a line with other than ASCII may spell that name in characters Python
    folds to it (NFKC), so it counts too."""
    return "." in line or "getattr" in line or "hasattr" in line or not line.isascii()


def _own_nodes(scope: ast.AST, may_read_attributes: Callable[[int, int], bool] | None = None):
    """The nodes of ``scope``'s own code: its body (a function's decorators, defaults and annotations
    run outside it) without nested scopes, nor statements that ``may_read_attributes`` rules out."""

    def enter(node: ast.AST) -> bool:
        if isinstance(node, _NESTED_SCOPES):
            return False
        return may_read_attributes is None or not isinstance(node, ast.stmt) or may_read_attributes(node.lineno, node.end_lineno or node.lineno)

    body = getattr(scope, "body", [])
    for part in body if isinstance(body, list) else [body]:
        yield from code_nodes(part, enter)


# Bases that are provably not torch.Tensor (nor derive from it); a class deriving only from these, or
# from classes of the same module that do, is not a tensor class.
_NON_TENSOR_BASES = frozenset({"object", "nn.Module", "torch.nn.Module", "abc.ABC", "ABC"})
_NOT_AN_INSTANCE = frozenset({"staticmethod", "classmethod"})
# Marks the class fact among ``foreign_attributes`` (attribute names never hold a space).
_CLASS_PREFIX = "class "


def instance_of_other_class(function: ast.AST, ancestors: tuple[ast.AST, ...], module: ast.AST) -> tuple[str, str] | None:
    """``(parameter, class name)`` when ``function`` is a method of a class (its parent in
    ``ancestors``) that provably does not derive from torch.Tensor, and its first parameter, never
    rebound in it, is therefore an instance of that class and not a tensor."""
    if not isinstance(function, (ast.FunctionDef, ast.AsyncFunctionDef)) or function not in ancestors:
        return None
    position = ancestors.index(function)
    owner = ancestors[position - 1] if position else None
    if not isinstance(owner, ast.ClassDef) or function not in owner.body:
        return None
    if any(dotted_name(decorator) in _NOT_AN_INSTANCE for decorator in function.decorator_list if isinstance(decorator, ast.expr)):
        return None
    parameters = [*function.args.posonlyargs, *function.args.args]
    if not parameters:
        return None
    instance = parameters[0].arg
    rebound = any(isinstance(node, ast.Name) and node.id == instance and not isinstance(node.ctx, ast.Load) for node in _own_nodes(function))
    if rebound or not _not_a_tensor_class(owner, _module_classes(module), set()):
        return None
    return instance, owner.name


def _module_classes(module: ast.AST) -> dict[str, list[ast.ClassDef]]:
    classes: dict[str, list[ast.ClassDef]] = {}
    for node in getattr(module, "body", []):
        if isinstance(node, ast.ClassDef):
            classes.setdefault(node.name, []).append(node)
    return classes


def _not_a_tensor_class(node: ast.ClassDef, classes: dict[str, list[ast.ClassDef]], seen: set[str]) -> bool:
    if node.keywords:  # a metaclass can make the class anything
        return False
    for base in node.bases:
        name = dotted_name(base)
        if name in _NON_TENSOR_BASES:
            continue
        definitions = classes.get(name or "", [])
        # A base defined once at the top of this module is read through; anything else may be a tensor class.
        if len(definitions) != 1 or name in seen:
            return False
        if not _not_a_tensor_class(definitions[0], classes, seen | {name or ""}):
            return False
    return True


def class_fact(class_name: str) -> str:
    """The entry of ``foreign_attributes`` that says the value is an instance of ``class_name``."""
    return _CLASS_PREFIX + class_name


def another_class(shown: str, attributes: tuple[str, ...]) -> str:
    """Why a fix is withdrawn from an operand the code uses as another class than a tensor."""
    if attributes and attributes[0].startswith(_CLASS_PREFIX):
        flat = " ".join(shown.split())
        class_name = attributes[0][len(_CLASS_PREFIX) :]
        return f"{flat[:MAX_SHOWN]} is an instance of {class_name}, a class that does not derive from torch.Tensor, and the rewrite is proven for tensors only"
    flat = " ".join(shown.split())
    shown = flat if len(flat) <= MAX_SHOWN else flat[: MAX_SHOWN - 3] + "..."
    read = [attribute for attribute in attributes if not attribute.endswith(ASSIGNED)]
    if not read:
        listed = ", ".join(f"`.{attribute.removesuffix(ASSIGNED)}`" for attribute in attributes[:3])
        return f"{shown} is given its own {listed}: it is no plain torch tensor, and the rewrite is proven for tensors only"
    listed = ", ".join(f"`.{attribute}`" for attribute in read[:3])
    return (
        f"{shown} is used with {listed}, which a torch tensor lacks: it is another class (a structured matrix, say), and the rewrite is proven for tensors only"
    )
