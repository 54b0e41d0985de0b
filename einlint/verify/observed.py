"""Input cases at the shapes, dtypes and device ``einlint observe`` recorded at a fix's statement.

They run beside the synthetic cases (``inputs.plan``), under the same budgets: an observed case whose
tensors or multiply-adds exceed the largest profile's budget is not tried, and the verdict says so.
The recorder samples each operand's shapes separately, so combinations of them are tried and only
those the original accepts (run on shape-only meta tensors) are kept, at most ``MAX_OBSERVED_CASES``.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from dataclasses import dataclass

from einlint.equation.model import ELLIPSIS, parse_equation
from einlint.observe.cases import ObservedOperands
from einlint.verify.equivalence import TOLERANCES
from einlint.verify.expressions import ExpressionPair
from einlint.verify.inputs import BUDGETS, OBSERVED_PROFILE, InputCase, _run_on_meta
from einlint.verify.runtime import require_torch

# Observed cases per fix, and combinations of per-operand shapes examined to find them.
MAX_OBSERVED_CASES = 3
MAX_COMBINATIONS = 64
# The budget observed shapes are held to: the largest profile's.
OBSERVED_BUDGET = BUDGETS["large"]


@dataclass(frozen=True)
class ObservedPlan:
    cases: tuple[InputCase, ...] = ()
    notes: tuple[str, ...] = ()  # what was not tried and why, one line each


def observed_plan(pair: ExpressionPair, observed: ObservedOperands | None, original: Callable, device: str) -> ObservedPlan:
    """The observed cases of ``pair``, and notes on what was left out (over budget, unmatched operands)."""
    if observed is None:
        return ObservedPlan()
    samples = []
    for operand in pair.operands:
        shapes = observed.shapes_of(operand)
        if shapes is None:
            return ObservedPlan(notes=(f"observed shapes not used: operand `{operand}` was not recorded",))
        samples.append(shapes)
    dtypes = [dtype for dtype in observed.dtypes if dtype in TOLERANCES] or ["float32"]
    notes: list[str] = []
    if any(seen != device for seen in observed.devices):
        notes.append(f"observed on {', '.join(observed.devices)}; verified on {device}")
    torch = require_torch()
    accepted: list[tuple[tuple[int, ...], ...]] = []
    for shapes in itertools.islice(itertools.product(*samples), MAX_COMBINATIONS):
        result = _run_on_meta(torch, original, list(shapes))
        if result is None:
            continue  # shapes that were never seen together
        excess = _excess(pair, shapes, tuple(result.shape))
        if excess:
            notes.append(f"observed shapes {_shown(shapes)} not tried, over budget: {excess}")
            continue
        accepted.append(shapes)
        if len(accepted) == MAX_OBSERVED_CASES:
            break
    if not accepted and not notes:
        notes.append("observed shapes not used: the original rejects every combination of them")
    cases = []
    for index, shapes in enumerate(accepted):
        for dtype in dtypes:
            parts = [str(index + 1)] if len(accepted) > 1 else []
            parts += [] if observed.contiguous else ["non-contiguous"]
            parts += [dtype] if len(dtypes) > 1 else []
            variant = "-".join(parts) or "contiguous"
            cases.append(InputCase(OBSERVED_PROFILE, variant, shapes, contiguous=observed.contiguous, timed=True, dtype=dtype))
    return ObservedPlan(tuple(cases), tuple(dict.fromkeys(notes)))


def _excess(pair: ExpressionPair, shapes: tuple[tuple[int, ...], ...], result_shape: tuple[int, ...]) -> str:
    """What of these operand shapes exceeds the budget; empty when they fit."""
    largest = max([math.prod(shape) for shape in shapes] + [math.prod(result_shape)])
    if largest > OBSERVED_BUDGET.tensor_elements:
        return f"a tensor of {largest:,} elements (budget {OBSERVED_BUDGET.tensor_elements:,})"
    product = _label_product(pair, shapes)
    if product > OBSERVED_BUDGET.label_product:
        return f"{product:,} multiply-adds (budget {OBSERVED_BUDGET.label_product:,})"
    return ""


def _label_product(pair: ExpressionPair, shapes: tuple[tuple[int, ...], ...]) -> int:
    """The product of every label's size (the multiply-adds of a contraction); without an equation, a
    bound: the largest operand's elements times its largest dimension (for ``a @ b``, m*k*max(m, k)
    against m*k*n it covers where n is the largest; otherwise the other operand's)."""
    if not pair.equation:
        return max(math.prod(shape) * max(shape, default=1) for shape in shapes)
    terms = parse_equation(pair.equation).inputs
    sizes: dict[str, int] = {}
    broadcast: list[int] = []
    for argument, placeholder in enumerate(pair.einsum_operands):
        term, shape = terms[argument], shapes[placeholder]
        labels = list(term.labels)
        if ELLIPSIS in labels:
            cut = labels.index(ELLIPSIS)
            after = len(labels) - cut - 1
            covered = shape[cut : len(shape) - after]
            broadcast = [max(a, b) for a, b in itertools.zip_longest(broadcast[::-1], covered[::-1], fillvalue=1)][::-1]
            pairs = list(zip(labels[:cut], shape)) + list(zip(labels[cut + 1 :], shape[len(shape) - after :]))
        else:
            pairs = list(zip(labels, shape))
        for label, size in pairs:
            sizes[label] = max(sizes.get(label, 1), size)
    return math.prod(sizes.values()) * math.prod(broadcast)


def _shown(shapes: tuple[tuple[int, ...], ...]) -> str:
    return ", ".join("x".join(str(size) for size in shape) or "()" for shape in shapes)
