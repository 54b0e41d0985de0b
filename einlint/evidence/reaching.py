"""Which assignment gives a local name its value at a use, when the code says so without doubt.

``x = x.transpose(1, 2)`` followed by ``x = x.view(b, n, -1)`` rebinds ``x``: facts that need a name
bound once (evidence.operands) say nothing there, but walking back from the use through straight-line
code finds the one assignment that reaches it. Anything that could make a second one reach the use (a
binding inside an ``if``/loop/``try`` between them, a loop around the use that rebinds the name, an
augmented or tuple assignment) gives no answer.
"""

from __future__ import annotations

import ast
import bisect
from dataclasses import dataclass

from einlint.evidence.imports import ImportTable
from einlint.evidence.operands import (
    ARRAY,
    FunctionFacts,
    OperandEvidence,
    expression_evidence,
    fact_position,
    has_shape_facts,
    merge_evidence,
    without_shape_facts,
)

MAX_DEPTH = 8


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
    if not chain:
        return None  # a use the scope's facts do not locate (in a class body)
    for level in range(len(chain) - 1, -1, -1):
        body_id, index = chain[level]
        located = facts.bodies.get(body_id)
        if located is None:
            return None
        body, owner = located
        positions = facts.binding_positions(body_id).get(name)
        before = bisect.bisect_left(positions, index) if positions else 0
        if before:
            position = positions[before - 1]  # type: ignore[index]
            statement = body[position]
            if (
                isinstance(statement, ast.Assign)
                and len(statement.targets) == 1
                and isinstance(statement.targets[0], ast.Name)
                and statement.targets[0].id == name
            ):
                return Reaching(statement.value, (*chain[:level], (body_id, position)))
            return None
        if owner is not None and _owner_may_bind(facts, owner, name):
            return None
    entry = facts.names.get(name)
    if entry is not None and entry.bindings and isinstance(entry.bindings[0], ast.arg):
        return FROM_PARAMETER
    return None


def assigned_position(facts: FunctionFacts, reaching: Reaching) -> int:
    """Where the value that ``reaching`` found is bound (see operands.fact_position)."""
    statement = facts.statement_at(reaching.chain)
    return fact_position(statement, True) if statement is not None else 0


def _owner_may_bind(facts: FunctionFacts, owner: ast.stmt, name: str) -> bool:
    """Leaving a block for the statement that holds it: may that statement bind ``name`` between its
    start and the block? An ``if`` only through a walrus in its test; a loop's later iterations, a
    try's other arms, a ``for`` target, a ``with ... as``, a ``case`` pattern through any binding."""
    if isinstance(owner, ast.If):
        return facts.has_walrus and any(isinstance(node, ast.NamedExpr) and node.target.id == name for node in ast.walk(owner.test))
    return name in facts.names_bound_by(owner)


def reaching_non_tensor(facts: FunctionFacts, imports: ImportTable, name: str, chain: tuple[tuple[int, int], ...], depth: int = 0) -> str | None:
    """What ``name`` is known to be instead of a torch tensor (ARRAY, OBJECT) by the assignment that
    reaches a use at ``chain``, following names and arithmetic on an array (``a / n`` of an array is
    an array); None when that is not known."""
    if depth > MAX_DEPTH:
        return None
    key = ("non-tensor", name, chain, depth)
    if key not in facts.memo:
        reaching = reaching_assignment(facts, name, chain)
        if not isinstance(reaching, Reaching):
            facts.memo[key] = facts.evidence_at(name, list(chain)).not_tensor  # a parameter's annotation, say
        else:
            facts.memo[key] = _value_non_tensor(facts, imports, reaching.value, reaching.chain, depth)
    return facts.memo[key]


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


def reaching_evidence(facts: FunctionFacts, imports: ImportTable, name: str, chain: tuple[tuple[int, int], ...], depth: int = 0) -> OperandEvidence:
    """Facts about a name at a use: its own (see FunctionFacts.evidence_at) joined with what the
    assignment that reaches the use at ``chain`` shows, names in that value read the same way at the
    assignment's place. This also serves names bound more than once (``ones = torch.ones(n, 1)`` in
    one branch and again in another), which have no facts of their own."""
    key = ("evidence", name, chain, depth)
    if key in facts.memo:
        return facts.memo[key]
    own = facts.evidence_at(name, list(chain))  # annotations, asserts, pragmas, a single binding
    reaching = reaching_assignment(facts, name, chain) if depth <= MAX_DEPTH else None
    result = own
    if isinstance(reaching, Reaching):
        derived = expression_evidence(reaching.value, imports, lambda inner: reaching_evidence(facts, imports, inner, reaching.chain, depth + 1))
        if has_shape_facts(derived) and facts.stale(name, assigned_position(facts, reaching), chain):
            derived = without_shape_facts(derived)
        result = merge_evidence(own, derived)
    # Memoised: ``x = torch.matmul(x, x)`` repeated reads each x twice, which doubles per level.
    facts.memo[key] = result
    return result
