"""What torch.einsum would reject (or silently misread) in a parsed equation, given what is known
statically about the operands. The rules only choose which kind of problem they report."""

from __future__ import annotations

import enum
from collections import Counter
from dataclasses import dataclass
from typing import TypeVar

from einlint.equation.model import ELLIPSIS, Equation, Term

Key = TypeVar("Key")


class ProblemKind(enum.Enum):
    OPERAND_COUNT = "operand-count"
    OUTPUT_LABEL_UNKNOWN = "output-label-unknown"
    OUTPUT_LABEL_REPEATED = "output-label-repeated"
    MULTIPLE_ELLIPSIS = "multiple-ellipsis"
    OUTPUT_ELLIPSIS_UNUSED = "output-ellipsis-unused"
    RANK_MISMATCH = "rank-mismatch"
    SIZE_CONFLICT = "size-conflict"


@dataclass(frozen=True)
class OperandFacts:
    """What is known about one operand: its rank and, where literal, its sizes (None = unknown)."""

    rank: int | None = None
    shape: tuple[int | None, ...] | None = None


@dataclass(frozen=True)
class Problem:
    kind: ProblemKind
    message: str
    index: int  # character offset in the equation text that the report points at


def check_equation(equation: Equation, operand_count: int | None, operands: tuple[OperandFacts, ...] = ()) -> list[Problem]:
    """All problems of ``equation`` when applied to ``operand_count`` operands described by ``operands``
    (shorter than the count, or empty, when less is known)."""
    problems: list[Problem] = []
    terms = equation.inputs + ((equation.output,) if equation.output is not None else ())
    for term in terms:
        if term.ellipsis_count > 1:
            problems.append(Problem(ProblemKind.MULTIPLE_ELLIPSIS, f"term {term.text()!r} has more than one '...'", term.start))
    if operand_count is not None and operand_count != len(equation.inputs):
        problems.append(
            Problem(
                ProblemKind.OPERAND_COUNT,
                f"the equation has {len(equation.inputs)} input term(s) but einsum gets {operand_count} operand(s)",
                0,
            )
        )
    input_labels = {label for term in equation.inputs for label in term.letters}
    if equation.output is not None:
        output = equation.output
        for label, count in Counter(output.letters).items():
            if label not in input_labels:
                problems.append(Problem(ProblemKind.OUTPUT_LABEL_UNKNOWN, f"output label {label!r} appears in no input term", output.offset_of(label)))
            if count > 1:
                problems.append(Problem(ProblemKind.OUTPUT_LABEL_REPEATED, f"output label {label!r} is repeated", output.offset_of(label)))
        if output.ellipsis_count and not any(term.ellipsis_count for term in equation.inputs):
            problems.append(
                Problem(
                    ProblemKind.OUTPUT_ELLIPSIS_UNUSED,
                    "the output has '...' but no input does, so it stands for no dimensions",
                    output.start,
                )
            )
    problems.extend(_operand_problems(equation, operands))
    return problems


def _operand_problems(equation: Equation, operands: tuple[OperandFacts, ...]) -> list[Problem]:
    problems: list[Problem] = []
    # label -> (size, operand index), and the same for each '...' dimension counted from the right. A size
    # of 1 broadcasts, so it gives way to the first other size seen: that is the one all must match.
    label_sizes: dict[str, tuple[int, int]] = {}
    ellipsis_sizes: dict[int, tuple[int, int]] = {}
    for position, (term, facts) in enumerate(zip(equation.inputs, operands)):
        if term.ellipsis_count > 1:
            continue
        rank = facts.rank if facts.rank is not None else (len(facts.shape) if facts.shape is not None else None)
        if rank is not None:
            needed = len(term.letters)
            if (term.ellipsis_count and rank < needed) or (not term.ellipsis_count and rank != needed):
                relation = "at least " if term.ellipsis_count else ""
                problems.append(
                    Problem(
                        ProblemKind.RANK_MISMATCH,
                        f"operand {position} has {rank} dimension(s) but its term {term.text()!r} needs {relation}{needed}",
                        term.start,
                    )
                )
                continue
        if facts.shape is None:
            continue
        operand_sizes: dict[str, int] = {}
        for label, size in _label_sizes(term, facts.shape):
            if size is None:
                continue
            if label in operand_sizes:
                # A label repeated within one operand takes its diagonal, which needs equal sizes: no broadcasting.
                if operand_sizes[label] != size:
                    problems.append(
                        Problem(
                            ProblemKind.SIZE_CONFLICT,
                            f"label {label!r} is repeated in operand {position} with sizes {operand_sizes[label]} and {size}",
                            term.offset_of(label),
                        )
                    )
                continue
            operand_sizes[label] = size
            conflict = _broadcast(label_sizes, label, size, position)
            if conflict is not None:
                first_size, first_operand = conflict
                problems.append(
                    Problem(
                        ProblemKind.SIZE_CONFLICT,
                        f"label {label!r} has size {first_size} in operand {first_operand} but {size} in operand {position}",
                        term.offset_of(label),
                    )
                )
        for from_right, size in enumerate(reversed(_ellipsis_shape(term, facts.shape))):
            if size is None:
                continue
            conflict = _broadcast(ellipsis_sizes, from_right, size, position)
            if conflict is not None:
                first_size, first_operand = conflict
                problems.append(
                    Problem(
                        ProblemKind.SIZE_CONFLICT,
                        f"the dimensions under '...' do not broadcast: size {first_size} in operand {first_operand} but {size} in operand {position}",
                        term.offset_of(ELLIPSIS),
                    )
                )
    return problems


def _broadcast(known: dict[Key, tuple[int, int]], key: Key, size: int, position: int) -> tuple[int, int] | None:
    """Record that operand ``position`` gives ``key`` the size ``size``; return the (size, operand index)
    it conflicts with, if any. Sizes agree when equal or when either is 1 (torch broadcasts it)."""
    if key not in known or known[key][0] == 1:
        known[key] = (size, position)
        return None
    first_size, _ = known[key]
    return known[key] if size not in (1, first_size) else None


def _label_sizes(term: Term, shape: tuple[int | None, ...]) -> list[tuple[str, int | None]]:
    """Pair each letter of ``term`` with its dimension size, skipping the dimensions of an ellipsis."""
    if term.ellipsis_count == 0:
        return list(zip(term.labels, shape))
    split = term.labels.index(ELLIPSIS)
    before, after = term.labels[:split], term.labels[split + 1 :]
    tail = shape[len(shape) - len(after) :] if after else ()
    return list(zip(before, shape)) + list(zip(after, tail))


def _ellipsis_shape(term: Term, shape: tuple[int | None, ...]) -> tuple[int | None, ...]:
    """The sizes of the dimensions that the ellipsis of ``term`` stands for (none without one)."""
    if term.ellipsis_count == 0:
        return ()
    split = term.labels.index(ELLIPSIS)
    return shape[split : len(shape) - (len(term.labels) - split - 1)]
