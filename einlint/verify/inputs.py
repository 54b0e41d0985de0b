"""Synthetic operands for a fix, built from the einsum equation of the rewrite.

Every label gets a different size, so that a swapped axis changes the result's shape or raises instead
of hiding. Each size profile (tiny, medium, large) is tried with contiguous operands and with
non-contiguous ones (transposed views of another tensor); the tiny profile adds batch size 1, size-1
broadcasting between operands and other ellipsis ranks, which only count where the original accepts
them. A fix without an einsum (a dropped ``.contiguous()``) has no equation: its labels are found by
running the original on shape-only meta tensors.
"""

from __future__ import annotations

import itertools
import math
import string
import warnings
from collections.abc import Callable
from dataclasses import dataclass

from einlint.equation.model import ELLIPSIS, Term, parse_equation
from einlint.verify.expressions import ExpressionPair, NotVerifiable
from einlint.verify.runtime import require_torch

PROFILES = ("tiny", "medium", "large")
# The profile of cases at the shapes ``einlint observe`` recorded (``observed.py``).
OBSERVED_PROFILE = "observed"


@dataclass(frozen=True)
class Budget:
    """What one case of a profile may cost. ``label_product`` bounds the product of all label sizes:
    the multiply-adds of a contraction, and the elements of an outer product the original may
    materialise; ``tensor_elements`` bounds every operand and the result. At 8 bytes per element
    (float64), the largest case of any profile needs at most ``BYTES_PER_ELEMENT * label_product`` for
    its largest intermediate plus a few tensors of ``tensor_elements``."""

    label_product: int
    tensor_elements: int

    def bytes(self) -> int:
        return BYTES_PER_ELEMENT * (self.label_product + TENSORS_PER_CASE * self.tensor_elements)


BYTES_PER_ELEMENT = 8
# Operands, their gradients, the results of both sides and the upstream gradient, with room to spare.
TENSORS_PER_CASE = 12
# Per profile: first size of a batch-like label, first size of any other label. The tiny profile uses
# the smallest distinct sizes (2, 3, 4, ...); its budget only refuses equations with so many labels that
# even those are too large. Medium and large sizes shrink until they fit.
_PROFILE_SIZES = {"tiny": (2, 2), "medium": (3, 24), "large": (6, 160)}
BUDGETS = {
    "tiny": Budget(label_product=1 << 22, tensor_elements=1 << 22),
    "medium": Budget(label_product=1 << 21, tensor_elements=1 << 16),
    "large": Budget(label_product=1 << 25, tensor_elements=1 << 21),
}
# The memory one fix's tensors may take at most, whatever the profile: the README states it.
MEMORY_BUDGET = max(budget.bytes() for budget in BUDGETS.values())
# Without an equation, a searched layout gives every dimension of every operand its own size at first:
# more dimensions than sizes means too many operands to search.
# Dimensions an ellipsis stands for in the base cases; the tiny profile also tries 0 and 1.
ELLIPSIS_RANK = 2
# Without an equation: the operand ranks tried (the first that fits is the base case), the distinct
# sizes labels get while searching, and how many label assignments are tried at most per rank.
SEARCH_RANKS = (3, 2, 4)
SEARCH_SIZES = (2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37, 41, 43, 47, 53, 59, 61, 67, 71, 73, 79, 83, 89)
MAX_SEARCH = 5000


@dataclass(frozen=True)
class InputCase:
    profile: str
    variant: str  # contiguous, non-contiguous, batch-1, broadcast, ellipsis-0, ellipsis-1, broadcast-rank
    shapes: tuple[tuple[int, ...], ...]  # one per placeholder operand
    contiguous: bool = True
    # A broadcasting or rank variant: it counts only where the original accepts it.
    optional: bool = False
    timed: bool = False
    # The one dtype the case runs at (a case at observed shapes); None: every dtype of the run.
    dtype: str | None = None

    @property
    def name(self) -> str:
        return self.profile if self.variant == "contiguous" else f"{self.profile}/{self.variant}"

    def to_dict(self) -> dict:
        data = {"name": self.name, "shapes": [list(shape) for shape in self.shapes], "contiguous": self.contiguous}
        if self.dtype is not None:
            data["dtype"] = self.dtype
        return data


@dataclass(frozen=True)
class _Layout:
    """Which labels each einsum argument has, and which of them behave like a batch dimension."""

    terms: tuple[Term, ...]
    output: Term
    argument_of: tuple[int, ...]  # for each placeholder, the first einsum argument that is it
    letters: tuple[str, ...]
    batch: frozenset[str]  # in every input term and in the output: the dimensions a batch would be
    has_ellipsis: bool


class OverBudget(NotVerifiable):
    """Even the smallest shapes that tell every label apart exceed the budget."""


@dataclass(frozen=True)
class CasePlan:
    cases: tuple[InputCase, ...]
    # What was left out to stay within the budgets, one line each ("large: 2^26 multiply-adds ...").
    over_budget: tuple[str, ...] = ()


def plan_cases(pair: ExpressionPair, profiles: tuple[str, ...] = PROFILES, original: Callable | None = None) -> list[InputCase]:
    return list(plan(pair, profiles, original).cases)


def plan(pair: ExpressionPair, profiles: tuple[str, ...] = PROFILES, original: Callable | None = None) -> CasePlan:
    """The cases to try, each within its profile's budget. Without an einsum equation the labels are
    searched for by running ``original`` (the compiled original expression) on meta tensors. Raises
    OverBudget when not even the tiny profile fits."""
    other_ranks: list[tuple[int, _Layout]] = []
    if pair.equation:
        layout = _layout(pair)
    else:
        if original is None:
            raise ValueError("a pair without an einsum equation needs the original function to search shapes")
        found = [(rank, _searched_layout(original, len(pair.operands), rank)) for rank in SEARCH_RANKS]
        found = [(rank, layout) for rank, layout in found if layout is not None]
        if not found:
            ranks = ", ".join(str(rank) for rank in SEARCH_RANKS)
            raise NotVerifiable(f"no operand shapes found on which the original runs (ranks {ranks} tried)")
        layout = found[0][1]
        other_ranks = found[1:]
    cases: list[InputCase] = []
    over_budget: list[str] = []
    for profile in profiles:
        if profile not in _PROFILE_SIZES:
            raise ValueError(f"unknown size profile {profile!r}")
        sizes = _sizes(layout, profile)
        excess = _excess(layout, sizes, BUDGETS[profile])
        if excess:
            over_budget.append(f"{profile}: {excess}")
            continue
        base = _shapes(layout, sizes)
        cases.append(InputCase(profile, "contiguous", base, timed=True))
        cases.append(InputCase(profile, "non-contiguous", base, contiguous=False))
        if profile == "tiny":
            cases.extend(_edge_cases(layout, sizes, profile))
            for rank, other in other_ranks:
                other_sizes = _sizes(other, profile)
                if not _excess(other, other_sizes, BUDGETS[profile]):
                    cases.append(InputCase(profile, f"rank-{rank}", _shapes(other, other_sizes), optional=True))
    if not cases:
        raise OverBudget(f"over budget: {'; '.join(over_budget)}")
    # A variant can coincide with another (a broadcast where only one operand has the batch dimension).
    unique: dict[tuple, InputCase] = {}
    for case in cases:
        unique.setdefault((case.shapes, case.contiguous), case)
    return CasePlan(tuple(unique.values()), tuple(over_budget))


def _layout(pair: ExpressionPair) -> _Layout:
    equation = parse_equation(pair.equation)
    terms = equation.inputs
    first_argument: dict[int, int] = {}
    for argument, placeholder in enumerate(pair.einsum_operands):
        if placeholder in first_argument:
            if terms[first_argument[placeholder]].labels != terms[argument].labels:
                raise NotVerifiable("an operand is used twice with different subscripts")
        else:
            first_argument[placeholder] = argument
    letters = tuple(dict.fromkeys(label for term in terms for label in term.letters))
    output = equation.effective_output()
    batch = frozenset(
        letter for letter in letters if letter in output.letters and all(letter in term.letters for term in terms)
    )  # fmt: skip
    argument_of = tuple(first_argument[index] for index in range(len(pair.operands)))
    has_ellipsis = any(term.ellipsis_count for term in terms)
    return _Layout(terms, output, argument_of, letters, batch, has_ellipsis)


def _searched_layout(original: Callable, operand_count: int, rank: int) -> _Layout | None:
    """Labels for operands of ``rank`` dimensions each on which ``original`` runs, with as many
    distinct labels as possible: start from all dimensions distinct and merge two labels at a time
    (breadth first), running the original on meta tensors, which compute shapes and no values."""
    torch = require_torch()
    dimensions = operand_count * rank
    if dimensions > len(SEARCH_SIZES):
        return None
    start = tuple(range(dimensions))
    seen = {start}
    frontier = [start]
    tries = 0
    while frontier:
        following = []
        for blocks in frontier:
            tries += 1
            if tries > MAX_SEARCH:
                return None
            shapes = [tuple(SEARCH_SIZES[block] for block in blocks[i * rank : (i + 1) * rank]) for i in range(operand_count)]
            result = _run_on_meta(torch, original, shapes)
            if result is not None:
                return _searched(blocks, operand_count, rank, tuple(result.shape))
            owners: dict[int, set[int]] = {}
            for position, block in enumerate(blocks):
                owners.setdefault(block, set()).add(position // rank)
            for first, second in itertools.combinations(sorted(owners), 2):
                if owners[first] & owners[second]:
                    continue  # one operand would have the same label twice (a diagonal): never needed
                merged = _canonical(tuple(first if block == second else block for block in blocks))
                if merged not in seen:
                    seen.add(merged)
                    following.append(merged)
        frontier = following
    return None


def _run_on_meta(torch, original: Callable, shapes: list[tuple[int, ...]]):
    tensors = [torch.empty(shape, device="meta") for shape in shapes]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            result = original(*tensors)
        except Exception:  # noqa: BLE001 - these shapes do not fit; try others
            return None
    return result if isinstance(result, torch.Tensor) else None


def _canonical(blocks: tuple[int, ...]) -> tuple[int, ...]:
    names: dict[int, int] = {}
    return tuple(names.setdefault(block, len(names)) for block in blocks)


def _searched(blocks: tuple[int, ...], operand_count: int, rank: int, output_shape: tuple[int, ...]) -> _Layout:
    letters = string.ascii_letters
    terms = tuple(Term(tuple(letters[block] for block in blocks[i * rank : (i + 1) * rank])) for i in range(operand_count))
    # Every label has its own size, so an output dimension of that size is that label.
    by_size = {SEARCH_SIZES[block]: letters[block] for block in set(blocks)}
    output = Term(tuple(by_size[size] for size in output_shape if size in by_size))
    ordered = tuple(dict.fromkeys(label for term in terms for label in term.letters))
    batch = frozenset(label for label in ordered if label in output.letters and all(label in term.letters for term in terms))
    return _Layout(terms, output, tuple(range(operand_count)), ordered, batch, False)


def _keys(layout: _Layout, ellipsis_rank: int) -> list[str]:
    """Every dimension that gets a size: the letters, then one key per ellipsis dimension."""
    return list(layout.letters) + ([f"{ELLIPSIS}{i}" for i in range(ellipsis_rank)] if layout.has_ellipsis else [])


def _sizes(layout: _Layout, profile: str, ellipsis_rank: int = ELLIPSIS_RANK) -> dict[str, int]:
    """Distinct sizes per label; medium and large ones shrink toward their budget (the result may
    still exceed it: see ``_excess``)."""
    batch_start, other_start = _PROFILE_SIZES[profile]
    keys = _keys(layout, ellipsis_rank)
    batch_like = [key for key in keys if key in layout.batch or key.startswith(ELLIPSIS)]
    if profile == "tiny":
        # One run of distinct sizes from 2 up: the smallest shapes where every label still differs.
        return {key: 2 + index for index, key in enumerate(batch_like + [key for key in keys if key not in batch_like])}
    sizes: dict[str, int] = {}
    for index, key in enumerate(batch_like):
        sizes[key] = batch_start + index
    others = [key for key in keys if key not in sizes]
    for index, key in enumerate(others):
        sizes[key] = other_start + index
    budget = BUDGETS[profile]
    for _ in range(200):
        if not _excess(layout, sizes, budget):
            break
        largest = max(sizes, key=lambda key: sizes[key])
        sizes[largest] = max(2, int(sizes[largest] * 0.9))
        _make_distinct(sizes, keys)
    return sizes


def _make_distinct(sizes: dict[str, int], keys: list[str]) -> None:
    used: set[int] = set()
    for key in sorted(keys, key=lambda key: -sizes[key]):
        size = sizes[key]
        while size in used:
            size = size - 1 if size > 2 else max(used) + 1
        sizes[key] = size
        used.add(size)


def _excess(layout: _Layout, sizes: dict[str, int], budget: Budget) -> str:
    """What exceeds ``budget`` at these sizes, for the verdict; empty when the case fits."""
    product = math.prod(sizes.values())
    if product > budget.label_product:
        return f"{len(sizes)} dimensions of distinct sizes give {product:,} multiply-adds (budget {budget.label_product:,})"
    shapes = list(_shapes(layout, sizes)) + [_term_shape(layout.output, sizes, {})]
    largest = max(math.prod(shape) for shape in shapes)
    if largest > budget.tensor_elements:
        return f"a tensor of {largest:,} elements (budget {budget.tensor_elements:,})"
    return ""


def _term_shape(term: Term, sizes: dict[str, int], overrides: dict[str, int], ellipsis_rank: int | None = None) -> tuple[int, ...]:
    ellipsis = sorted((key for key in sizes if key.startswith(ELLIPSIS)), key=lambda key: int(key[3:]))
    if ellipsis_rank is not None:
        ellipsis = ellipsis[len(ellipsis) - ellipsis_rank :] if ellipsis_rank else []
    shape: list[int] = []
    for label in term.labels:
        keys = ellipsis if label == ELLIPSIS else [label]
        shape.extend(overrides.get(key, sizes[key]) for key in keys)
    return tuple(shape)


def _shapes(
    layout: _Layout, sizes: dict[str, int], overrides: dict[int, dict[str, int]] | None = None, ranks: dict[int, int] | None = None
) -> tuple[tuple[int, ...], ...]:
    """The shape of each placeholder: ``overrides`` (argument -> key -> size) and ``ranks`` (argument
    -> ellipsis rank) describe broadcasting variants."""
    overrides = overrides or {}
    ranks = ranks or {}
    return tuple(
        _term_shape(layout.terms[argument], sizes, overrides.get(argument, {}), ranks.get(argument))
        for argument in layout.argument_of
    )  # fmt: skip


def _edge_cases(layout: _Layout, sizes: dict[str, int], profile: str) -> list[InputCase]:
    cases = []
    batch_keys = [key for key in sizes if key in layout.batch or key.startswith(ELLIPSIS)]
    ones = batch_keys or list(layout.output.letters[:1])
    if ones:
        single = dict(sizes, **{key: 1 for key in ones})
        cases.append(InputCase(profile, "batch-1", _shapes(layout, single)))
    # Size 1 against a full size: the later operands of each batch dimension are broadcast.
    arguments = sorted(set(layout.argument_of))
    if batch_keys and len(arguments) > 1:
        overrides = {argument: {key: 1 for key in batch_keys} for argument in arguments[1:]}
        cases.append(InputCase(profile, "broadcast", _shapes(layout, sizes, overrides), optional=True))
    if layout.has_ellipsis:
        for rank in range(ELLIPSIS_RANK):
            smaller = _sizes(layout, profile, ellipsis_rank=rank)
            cases.append(InputCase(profile, f"ellipsis-{rank}", _shapes(layout, smaller), optional=True))
        with_ellipsis = [argument for argument in arguments if layout.terms[argument].ellipsis_count]
        if len(with_ellipsis) > 1:
            ranks = {argument: ELLIPSIS_RANK - 1 for argument in with_ellipsis[1:]}
            cases.append(InputCase(profile, "broadcast-rank", _shapes(layout, sizes, ranks=ranks), optional=True))
    return cases


def make_inputs(case: InputCase, dtype_name: str, device: str, seed: int) -> list:
    """The operand tensors of one case, ``requires_grad=True``; non-contiguous cases are transposed
    views (the gradient still flows to each operand)."""
    torch = require_torch()
    dtype = getattr(torch, dtype_name)
    generator = torch.Generator().manual_seed(seed)
    tensors = []
    for shape in case.shapes:
        if case.contiguous or not shape:
            base = torch.randn(shape, generator=generator, dtype=torch.float64).to(device=device, dtype=dtype)
            tensors.append(base.requires_grad_())
        elif len(shape) == 1:
            base = torch.randn((2 * shape[0],), generator=generator, dtype=torch.float64).to(device=device, dtype=dtype)
            tensors.append(base.requires_grad_()[::2])
        else:
            order = tuple(reversed(range(len(shape))))
            base = torch.randn(tuple(reversed(shape)), generator=generator, dtype=torch.float64).to(device=device, dtype=dtype)
            tensors.append(base.requires_grad_().permute(order))
    return tensors
