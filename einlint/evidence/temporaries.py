"""Single-use temporaries that a chain may absorb: ``kt = k.transpose(-1, -2)`` followed by one use
``q @ kt``. Folding moves the read of the view's base (``k``) from the definition to the use, so it is
allowed only where nothing that runs between those two points can change what the base refers to, its
shape, strides or storage (``k.transpose_``, ``k.data = ...``, ``set_``), its autograd state
(``requires_grad_``) or the grad mode the view is taken under (``no_grad``, ``set_grad_enabled``).

Which code could do that is not decided by a list of method names: an in-place op can be reached
through an alias, a container, a walrus, a helper, a lambda, ``getattr`` or ``torch.Tensor.transpose_``,
and a nested function can rebind the name with ``nonlocal``. The rule is structural instead:

- the temporary is bound once, to a pure view (names under reordering views with literal integer
  arguments), and loaded once; every name it reads is a local bound once and never rebound after it;
- the definition and the use are in the same block of statements (the use is not in a nested block, a
  ``with`` or a loop body the definition is outside of);
- every statement strictly between them only binds plain names to expressions with no call (see
  ``EFFECTS``): no call of anything, no attribute or subscript assignment, augmented assignment,
  ``del``, ``with``, ``global``/``nonlocal``, walrus, ``await``/``yield``, comprehension, import or
  compound statement;
- in the use's own statement, nothing of that kind is evaluated before the temporary is read, and the
  read is not inside a lambda, comprehension or generator expression (which run later, repeatedly, or
  with names of their own).

Operators, attribute reads and subscript reads between the two points are taken to have no effect on
the base: on tensors they have none (a property or ``__torch_function__`` override that mutates an
unrelated tensor is outside what the fix tiers model)."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass

from einlint.evidence.operands import FunctionFacts

# Methods and attributes that only reorder or expose dimensions: moving them cannot have an effect.
VIEW_METHODS = frozenset({"transpose", "swapaxes", "swapdims", "permute", "t", "unsqueeze", "movedim"})
VIEW_ATTRIBUTES = frozenset({"T", "mT"})

# Expressions that may run arbitrary code (a call, an iteration) or rebind a name, or that hand
# control to other code (await, yield) which may then change the base.
EFFECTS = (
    ast.Call, ast.NamedExpr, ast.Await, ast.Yield, ast.YieldFrom,
    ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp,
)  # fmt: skip
# Code that runs later, more than once, or with names of its own: a view folded into it is not read
# where the temporary was.
_DEFERRED = (ast.Lambda, ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)


@dataclass(frozen=True)
class Temporary:
    """A single-use view temporary met at its use: its definition, and why the view cannot move to
    the use (None when it can)."""

    definition: ast.Assign
    refusal: str | None


def single_use_view(function: ast.AST, facts: FunctionFacts, name: str, use: ast.stmt, use_chain: list[tuple[int, int]]) -> Temporary | None:
    """``name`` as a temporary bound once to a pure view and loaded once, in statement ``use``
    (located at ``use_chain``) after its definition; None when it is not one. Its ``refusal`` says
    why folding it there could change what the program computes."""
    entry = facts.names.get(name)
    if entry is None or len(entry.bindings) != 1:
        return None
    definition = entry.bindings[0]
    if not (
        isinstance(definition, ast.Assign)
        and len(definition.targets) == 1
        and isinstance(definition.targets[0], ast.Name)
        and facts.dominates(definition, use_chain)
        and is_pure_view(definition.value)
    ):
        return None
    loads = facts.name_uses(function, name, ast.Load)
    if loads != 1:
        return None
    return Temporary(definition, _refusal(facts, definition, name, use))


def _refusal(facts: FunctionFacts, definition: ast.Assign, name: str, use: ast.stmt) -> str | None:
    for read in dict.fromkeys(node.id for node in ast.walk(definition.value) if isinstance(node, ast.Name)):
        bindings = facts.names.get(read)
        if bindings is None:
            return f"{name} views {read}, which is not a local of this function and could change before this use"
        if len(bindings.bindings) > 1:
            return f"{name} views {read}, which is bound more than once in this function"
        if any(binding is definition or getattr(binding, "lineno", 0) > definition.lineno for binding in bindings.bindings):
            return f"{name} views {read}, which is bound again after {name}"
    defined_at, used_at = facts.location.get(id(definition)), facts.location.get(id(use))
    if defined_at is None or used_at is None or defined_at[0] != used_at[0] or used_at[1] <= defined_at[1]:
        return f"{name} is defined in another block than this use (a with, loop or branch lies between them)"
    body = facts.bodies[defined_at[0]][0]
    for statement in body[defined_at[1] + 1 : used_at[1]]:
        if not _is_inert(statement):
            return f"line {statement.lineno} runs code between {name}'s definition and this use that could change the tensor it views"
    return _read_first_refusal(use, name)


def _is_inert(statement: ast.stmt) -> bool:
    """A statement that can change no tensor and no grad mode: plain names bound to effect-free values."""
    if isinstance(statement, ast.Pass):
        return True
    if isinstance(statement, ast.Expr):
        return not has_effect(statement.value)
    if isinstance(statement, ast.Assign):
        return all(_is_plain_target(target) for target in statement.targets) and not has_effect(statement.value)
    if isinstance(statement, ast.AnnAssign):
        # In a function body the annotation of a simple name is never evaluated.
        return isinstance(statement.target, ast.Name) and (statement.value is None or not has_effect(statement.value))
    return False


def _is_plain_target(target: ast.expr) -> bool:
    if isinstance(target, ast.Name):
        return True
    if isinstance(target, ast.Starred):
        return _is_plain_target(target.value)
    if isinstance(target, (ast.Tuple, ast.List)):
        return all(_is_plain_target(element) for element in target.elts)
    return False


def has_effect(expression: ast.expr) -> bool:
    return any(isinstance(node, EFFECTS) for node in ast.walk(expression))


def _read_first_refusal(use: ast.stmt, name: str) -> str | None:
    """Why the one load of ``name`` in ``use`` is not read where the temporary was: inside deferred
    code, or after something with an effect in the same statement; None when it is."""
    parents: dict[int, ast.AST] = {}
    target = None
    for node in ast.walk(use):
        for child in ast.iter_child_nodes(node):
            parents[id(child)] = node
        if isinstance(node, ast.Name) and node.id == name and isinstance(node.ctx, ast.Load):
            target = node
    if target is None:
        return f"{name} is not read in this statement"
    ancestor = parents.get(id(target))
    while ancestor is not None:
        if isinstance(ancestor, _DEFERRED):
            return f"{name} is read inside a lambda or comprehension, which runs later or repeatedly"
        ancestor = parents.get(id(ancestor))
    for node in evaluation_order(use):
        if node is target:
            return None
        if isinstance(node, EFFECTS):
            return f"this statement runs code that could change the tensor {name} views before it reads {name}"
    return f"{name} is not read in this statement"


def evaluation_order(root: ast.AST) -> Iterator[ast.AST]:
    """The nodes of ``root`` in the order their evaluation completes: each node after its children,
    the children in the order Python evaluates them. Iterative, so deep expressions cost no stack."""
    stack: list[tuple[ast.AST, bool]] = [(root, False)]
    while stack:
        node, expanded = stack.pop()
        if expanded:
            yield node
            continue
        stack.append((node, True))
        stack.extend((child, False) for child in reversed(_children_in_order(node)))


def _children_in_order(node: ast.AST) -> list[ast.AST]:
    if isinstance(node, ast.Assign):
        return [node.value, *node.targets]  # the value is evaluated before the targets
    if isinstance(node, ast.AnnAssign):
        return [node.value, node.target] if node.value is not None else [node.target]
    if isinstance(node, ast.Dict):
        ordered: list[ast.AST] = []
        for key, value in zip(node.keys, node.values):
            ordered.extend((key, value) if key is not None else (value,))
        return ordered
    return list(ast.iter_child_nodes(node))


def is_pure_view(node: ast.expr) -> bool:
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
