"""May a ``.contiguous()``/``.clone()`` copy that feeds a contraction be dropped (EIN202)?

The copy is a snapshot of its source. Without it the contraction reads the source itself, later: an
operand evaluated after the copy that changes the source in place changes the product; and matmul and
einsum save their operands for backward, so an in-place change of the source after the contraction
(under ``no_grad`` too) makes backward raise, or, through ``.data``, silently changes the gradient.
``out=`` aliasing the source makes the product read what it writes.

Three outcomes:

- **keep** (no finding): the code itself may change the source: between the copy and the contraction
  something other than views and copies of names is evaluated; or from the contraction's statement on
  (and anywhere in a loop around it) there is an in-place method call, a ``.data``, an ``out=`` or
  ``inplace=`` argument, an augmented assignment or an item or attribute store, or a call of an
  unknown function, on anything that may share the source's storage (``may_share``); or a nested
  function or lambda can reach it.
- **safe**: the source is a local bound once to a freshly allocated dense tensor (a torch factory
  without ``out=`` or ``layout=``) and read only by this copy: nothing else can reach its storage.
- **unsafe**, assuming ``no-inplace-after-copy``: otherwise. A caller holding the source (a
  parameter, an attribute, a global) can change it in place before it runs backward; the version
  check then makes backward raise, except for changes through ``.data``, which it does not see.
"""

from __future__ import annotations

import ast
from collections.abc import Callable
from dataclasses import dataclass

from einlint.evidence.operands import (
    RANK_PRESERVING_METHODS,
    SHAPE_FACTORIES,
    TENSOR_ONLY_METHODS,
    TENSOR_TO_TENSOR_METHODS,
    VECTOR_FACTORIES,
    VIEW_METHODS,
    FunctionFacts,
)
from einlint.evidence.temporaries import EFFECTS

NO_INPLACE_AFTER_COPY = "no-inplace-after-copy"

# torch functions that allocate new storage that nothing else holds.
ALLOCATING_FACTORIES = SHAPE_FACTORIES | VECTOR_FACTORIES | frozenset(
    f"torch.{name}" for name in (
        "eye", "tensor", "randint", "randperm", "empty_strided", "zeros_like", "ones_like", "empty_like",
        "full_like", "rand_like", "randn_like",
    )
)  # fmt: skip
# Tensor methods that return a new tensor (never their receiver or a view of it).
ALLOCATING_METHODS = frozenset({"clone", "new_zeros", "new_ones", "new_empty", "new_full", "new_tensor"})
# A matrix product always computes a new tensor (einsum of one operand can return a view of it).
MATRIX_PRODUCTS = frozenset({"torch.matmul", "torch.bmm", "torch.mm"})
# Tensor methods that change nothing (their name has no trailing underscore); a call of one is no
# effect on any tensor.
PURE_METHODS = (
    TENSOR_ONLY_METHODS | TENSOR_TO_TENSOR_METHODS | RANK_PRESERVING_METHODS | VIEW_METHODS
    | frozenset({
        "reshape", "size", "dim", "numel", "item", "tolist", "stride", "is_contiguous", "transpose", "permute",
        "chunk", "split", "unbind", "sum", "mean", "amax", "amin", "max", "min", "norm", "type", "long", "int",
        "bool", "squeeze", "unsqueeze",
    })
)  # fmt: skip


@dataclass(frozen=True)
class CopyDrop:
    """Whether the copy may go: ``keep`` says why it must stay; else ``private`` makes the drop safe."""

    keep: str | None
    private: bool


def copy_drop(
    scope: ast.AST,
    facts: FunctionFacts | None,
    statement: ast.stmt,
    loops: list[ast.AST],
    source: ast.expr,
    evaluated_between: list[ast.expr],
    qualify: Callable[[ast.expr], str | None],
) -> CopyDrop:
    """Judge dropping the copy of ``source`` (the copied view's receiver) in ``statement`` of
    ``scope`` (a function, or the module); ``evaluated_between`` are the expressions evaluated after
    the copy and before the contraction reads it; ``loops`` the loops around the statement."""
    root = _root_name(source)
    if changed_before_read(evaluated_between, qualify):
        return CopyDrop("an operand evaluated after the copy may change the source first", False)
    if root is None:
        return CopyDrop("the copied tensor is not reached through a name", False)
    sharing = may_share(scope, root, qualify)
    change = _later_change(scope, statement, loops, sharing, qualify)
    if change is not None:
        return CopyDrop(change, False)
    return CopyDrop(None, facts is not None and _is_private(scope, facts, root, qualify))


def bound_copy(scope: ast.AST, facts: FunctionFacts, name: str, use: ast.stmt, loops: list[ast.AST]) -> ast.Assign | None:
    """The statement ``name = <copy>`` when local ``name`` is bound once, by a plain assignment before
    ``use``, read only once (there), not declared ``global``/``nonlocal`` anywhere, and every loop
    around ``use`` also runs the binding (a copy made once outside a loop and read on every
    iteration pays for itself). None otherwise."""
    if not isinstance(scope, (ast.FunctionDef, ast.AsyncFunctionDef)) or name in facts.declared_elsewhere:
        return None
    entry = facts.names.get(name)
    if entry is None or len(entry.bindings) != 1:
        return None
    binding = entry.bindings[0]
    if not (isinstance(binding, ast.Assign) and len(binding.targets) == 1 and isinstance(binding.targets[0], ast.Name)):
        return None
    if (binding.end_lineno or binding.lineno) >= use.lineno:
        return None
    if any(not loop.lineno <= binding.lineno <= (loop.end_lineno or loop.lineno) for loop in loops):
        return None
    loads = facts.name_uses(scope, name, ast.Load, ast.Del)
    return binding if loads == 1 else None


def statements_between(scope: ast.AST, first: ast.stmt, use: ast.stmt) -> list[ast.AST]:
    """The statements that start after ``first`` ends and up to ``use`` (included): what may run
    between a bound copy and the contraction that reads it."""
    end = first.end_lineno or first.lineno
    return [node for node in ast.walk(scope) if isinstance(node, ast.stmt) and end < node.lineno <= use.lineno and node is not scope]


def may_share(scope: ast.AST, root: str, qualify: Callable[[ast.expr], str | None]) -> frozenset[str]:
    """Names that may hold ``root``'s storage, or a container or object holding it, at some point:
    ``root`` and every name linked to it by an assignment whose value is not freshly allocated (in
    either direction: ``alias = k``, ``k = base.view(...)``, ``store = [k]``, ``self.k = k``)."""
    links: dict[str, set[str]] = {}
    for node in ast.walk(scope):
        for targets, value in _bindings(node):
            if value is None or _is_fresh(value, qualify):
                continue
            names = {name for target in targets for name in _names(target)} | set(_names(value))
            for name in names:
                links.setdefault(name, set()).update(names)
    found = {root}
    pending = [root]
    while pending:
        for linked in links.get(pending.pop(), ()):
            if linked not in found:
                found.add(linked)
                pending.append(linked)
    return frozenset(found)


def _bindings(node: ast.AST):
    if isinstance(node, ast.Assign):
        yield node.targets, node.value
    elif isinstance(node, ast.AnnAssign):
        yield [node.target], node.value
    elif isinstance(node, ast.NamedExpr):
        yield [node.target], node.value
    elif isinstance(node, (ast.For, ast.AsyncFor, ast.comprehension)):
        yield [node.target], node.iter
    elif isinstance(node, (ast.With, ast.AsyncWith)):
        for item in node.items:
            if item.optional_vars is not None:
                yield [item.optional_vars], item.context_expr


def _is_fresh(value: ast.expr, qualify: Callable[[ast.expr], str | None]) -> bool:
    """An expression whose result is new storage: arithmetic, a matrix product, an allocation."""
    if isinstance(value, (ast.BinOp, ast.UnaryOp, ast.Compare, ast.Constant, ast.JoinedStr)):
        return True
    if isinstance(value, ast.Call):
        if any(keyword.arg in ("out", None) for keyword in value.keywords):
            return False  # ``torch.randn(4, 5, out=buffer)`` returns buffer
        if isinstance(value.func, ast.Attribute) and value.func.attr in ALLOCATING_METHODS:
            return True
        return qualify(value.func) in ALLOCATING_FACTORIES | MATRIX_PRODUCTS
    return False


def _later_change(scope: ast.AST, statement: ast.stmt, loops: list[ast.AST], sharing: frozenset[str], qualify: Callable[[ast.expr], str | None]) -> str | None:
    """What, from ``statement`` on (and in the loops around it), may change a tensor in ``sharing``."""
    start = statement.lineno

    def later(node: ast.AST) -> bool:
        line = getattr(node, "lineno", None)
        if line is None:
            return False
        return line >= start or any(loop.lineno <= line <= (loop.end_lineno or line) for loop in loops)

    for node in ast.walk(scope):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)) and node is not scope:
            if any(name in sharing for name in _names(node)):
                return f"a nested function or lambda (line {node.lineno}) can reach the copied tensor"
            continue
        if not later(node):
            continue
        reason = _change(node, sharing, qualify)
        if reason is not None:
            return f"line {node.lineno}: {reason}"
    return None


def _change(node: ast.AST, sharing: frozenset[str], qualify: Callable[[ast.expr], str | None]) -> str | None:
    if isinstance(node, ast.Call):
        return _call_change(node, sharing, qualify)
    if isinstance(node, ast.Attribute) and node.attr == "data":
        return ".data bypasses autograd's check of saved tensors"
    if isinstance(node, ast.Attribute) and node.attr == "numpy" and _root_name(node.value) in sharing:
        return ".numpy() shares the storage without autograd's check of saved tensors"
    if isinstance(node, ast.AugAssign) and _root_name(node.target) in sharing:
        return "an augmented assignment may change the copied tensor in place"
    if isinstance(node, (ast.Assign, ast.AnnAssign)):
        targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        for target in targets:
            for element in ast.walk(target):
                if isinstance(element, (ast.Subscript, ast.Attribute)) and _root_name(element) in sharing:
                    return "an item or attribute store may write into the copied tensor"
    return None


def _call_change(call: ast.Call, sharing: frozenset[str], qualify: Callable[[ast.expr], str | None]) -> str | None:
    for keyword in call.keywords:
        if keyword.arg == "out":
            return "an out= argument may write into the copied tensor"
        if keyword.arg == "inplace" and not (isinstance(keyword.value, ast.Constant) and keyword.value.value is False):
            return "an inplace= call may change the copied tensor"
    func = call.func
    if isinstance(func, ast.Attribute) and _is_inplace_name(func.attr):
        # k.mul_(2), store[0].mul_(2), torch.Tensor.mul_(k, 2), f().mul_(2)
        if _root_name(func.value) is None or any(name in sharing for name in _names(call)):
            return f"the in-place method .{func.attr}() may change the copied tensor"
        return None
    if _is_pure_call(call, qualify):
        return None
    if any(name in sharing for name in _names(call)):
        return "a call that receives the copied tensor (or what may share its storage) may change it in place"
    return None


def _is_pure_call(call: ast.Call, qualify: Callable[[ast.expr], str | None]) -> bool:
    func = call.func
    if any(keyword.arg in ("out", "inplace") for keyword in call.keywords):
        return False
    qualified = qualify(func)
    if qualified is not None:
        return qualified.startswith("torch.") and not _is_inplace_name(qualified.rsplit(".", 1)[-1])
    return isinstance(func, ast.Attribute) and func.attr in PURE_METHODS


def changed_before_read(evaluated_after: list[ast.expr], qualify: Callable[[ast.expr], str | None]) -> bool:
    """May one of ``evaluated_after`` (the arguments Python evaluates after an operand and before the
    call reads it) change a tensor in place: an in-place method (``x.t_()``), a call of unknown code?
    An operand's view or copy, taken first, keeps the shape and values it had; the tensor itself,
    passed in its place, would not."""
    return any(_has_unknown_effect(expression, qualify) for expression in evaluated_after)


def _has_unknown_effect(expression: ast.expr, qualify: Callable[[ast.expr], str | None]) -> bool:
    return any(isinstance(node, EFFECTS) and not (isinstance(node, ast.Call) and _is_pure_call(node, qualify)) for node in ast.walk(expression))


def _is_private(scope: ast.AST, facts: FunctionFacts, root: str, qualify: Callable[[ast.expr], str | None]) -> bool:
    """Is local ``root`` bound once, to a tensor a torch factory allocates, and read only once (by the
    copy)? Then nothing but the copy's view ever reaches its storage."""
    if not isinstance(scope, (ast.FunctionDef, ast.AsyncFunctionDef)):
        return False
    entry = facts.names.get(root)
    if entry is None or len(entry.bindings) != 1:
        return False
    binding = entry.bindings[0]
    if not (
        isinstance(binding, ast.Assign)
        and len(binding.targets) == 1
        and isinstance(binding.targets[0], ast.Name)
        and isinstance(binding.value, ast.Call)
        and qualify(binding.value.func) in ALLOCATING_FACTORIES
        # ``out=buf`` writes into buf and returns it; ``layout=torch.sparse_coo`` has no strided copy
        and not any(keyword.arg in ("out", "layout", None) for keyword in binding.value.keywords)
    ):
        return False
    loads = facts.name_uses(scope, root, ast.Load)
    return loads == 1


def _is_inplace_name(name: str) -> bool:
    return name.endswith("_") and not name.startswith("__")


def _root_name(node: ast.expr) -> str | None:
    while True:
        if isinstance(node, ast.Name):
            return node.id
        if isinstance(node, (ast.Attribute, ast.Subscript, ast.Starred)):
            node = node.value
        elif isinstance(node, ast.Call):
            node = node.func
        else:
            return None


def _names(node: ast.AST) -> list[str]:
    return [child.id for child in ast.walk(node) if isinstance(child, ast.Name)]
