"""Which assignment gives a local name its value at a use, when the code says so without doubt.

``x = x.transpose(1, 2)`` followed by ``x = x.view(b, n, -1)`` rebinds ``x``: facts that need a name
bound once (evidence.operands) say nothing there, but walking back from the use through straight-line
code finds the one assignment that reaches it. Anything that could make a second one reach the use (a
binding inside an ``if``/loop/``try`` between them, a loop around the use that rebinds the name, an
augmented or tuple assignment) gives no answer.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass

from einlint.evidence.imports import ImportTable
from einlint.evidence.operands import ARRAY, FunctionFacts, _block_names, expression_evidence

MAX_DEPTH = 8

_LOOPS_AND_TRIES = (ast.For, ast.AsyncFor, ast.While, ast.Try) + ((ast.TryStar,) if hasattr(ast, "TryStar") else ())


@dataclass(frozen=True)
class Reaching:
    """The value assigned to the name, and the use chain of the assignment statement (to resolve the
    names the value itself uses)."""

    value: ast.expr
    chain: tuple[tuple[int, int], ...]


# The name reaches the use from the top of the function: it is a parameter, unchanged since.
FROM_PARAMETER = "parameter"


def reaching_assignment(facts: FunctionFacts, name: str, chain: tuple[tuple[int, int], ...]) -> Reaching | str | None:
    """The single ``name = value`` that reaches a use at ``chain`` (see FunctionFacts.use_chain);
    FROM_PARAMETER when no statement before the use binds it and it is a parameter; None otherwise."""
    for level in range(len(chain) - 1, -1, -1):
        body_id, index = chain[level]
        located = facts.bodies.get(body_id)
        if located is None:
            return None
        body, owner = located
        for position in range(index - 1, -1, -1):
            statement = body[position]
            if not _binds(statement, name):
                continue
            if (
                isinstance(statement, ast.Assign)
                and len(statement.targets) == 1
                and isinstance(statement.targets[0], ast.Name)
                and statement.targets[0].id == name
            ):
                return Reaching(statement.value, (*chain[:level], (body_id, position)))
            return None
        if owner is not None and isinstance(owner, (*_LOOPS_AND_TRIES, ast.With, ast.AsyncWith)) and _binds(owner, name):
            # a loop's later iterations (or a try's other arms, a with's target) may bind it first
            return None
    entry = facts.names.get(name)
    if entry is not None and entry.bindings and isinstance(entry.bindings[0], ast.arg):
        return FROM_PARAMETER
    return None


def _binds(statement: ast.stmt, name: str) -> bool:
    return any(node.id == name for node in _block_names([statement], True))


def reaching_non_tensor(
    facts: FunctionFacts, imports: ImportTable, name: str, chain: tuple[tuple[int, int], ...], depth: int = 0
) -> str | None:
    """What ``name`` is known to be instead of a torch tensor (ARRAY, OBJECT) by the assignment that
    reaches a use at ``chain``, following names and arithmetic on an array (``a / n`` of an array is
    an array); None when that is not known."""
    if depth > MAX_DEPTH:
        return None
    reaching = reaching_assignment(facts, name, chain)
    if not isinstance(reaching, Reaching):
        return facts.evidence_at(name, list(chain)).not_tensor  # a parameter's annotation, say
    return _value_non_tensor(facts, imports, reaching.value, reaching.chain, depth)


def _value_non_tensor(facts: FunctionFacts, imports: ImportTable, value: ast.expr, chain, depth: int) -> str | None:
    if isinstance(value, ast.Name):
        return reaching_non_tensor(facts, imports, value.id, chain, depth + 1)
    if isinstance(value, ast.UnaryOp):
        return _value_non_tensor(facts, imports, value.operand, chain, depth + 1)
    if isinstance(value, ast.BinOp):
        # arithmetic with an array on either side: taken as an array (this only ever blocks a fix)
        left = _value_non_tensor(facts, imports, value.left, chain, depth + 1)
        return left if left == ARRAY else _value_non_tensor(facts, imports, value.right, chain, depth + 1)
    return expression_evidence(value, imports, lambda n: facts.evidence_at(n, list(chain))).not_tensor
