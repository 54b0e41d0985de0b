"""Parse an einsum equation string into a value and build one back.

The grammar is torch.einsum's: labels are ASCII letters, ``...`` is an ellipsis, terms are separated by
commas, ``->`` introduces the explicit output, and spaces may stand between elements but not inside
``...`` or ``->``. Only the space character: torch rejects a tab or a newline like any other non-letter.
"""

from __future__ import annotations

import string
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache

ELLIPSIS = "..."
LABEL_CHARACTERS = frozenset(string.ascii_letters)


class EquationSyntaxError(ValueError):
    """The equation is not well formed; ``index`` is the offending character in the equation text."""

    def __init__(self, message: str, index: int) -> None:
        super().__init__(message)
        self.index = index


@dataclass(frozen=True)
class Term:
    """The subscripts of one operand (or of the output): letters and at most one ``...`` when valid."""

    labels: tuple[str, ...]
    # Offset of the term's first character in the equation text, for precise reports.
    start: int = 0
    # Offset of each label in the equation text (empty for terms built rather than parsed).
    offsets: tuple[int, ...] = ()

    def offset_of(self, label: str) -> int:
        for item, offset in zip(self.labels, self.offsets):
            if item == label:
                return offset
        return self.start

    @property
    def ellipsis_count(self) -> int:
        return self.labels.count(ELLIPSIS)

    @property
    def letters(self) -> tuple[str, ...]:
        return tuple(label for label in self.labels if label != ELLIPSIS)

    def text(self) -> str:
        return "".join(self.labels)


@dataclass(frozen=True)
class Equation:
    inputs: tuple[Term, ...]
    output: Term | None  # None for the implicit form (no ``->``)

    @property
    def is_implicit(self) -> bool:
        return self.output is None

    def implicit_output(self) -> Term:
        """The output torch derives for the implicit form: an ellipsis first when any input has one,
        then the labels that occur exactly once, in ASCII order (upper case before lower case)."""
        counts = Counter(label for term in self.inputs for label in term.letters)
        once = sorted(label for label, count in counts.items() if count == 1)
        has_ellipsis = any(term.ellipsis_count for term in self.inputs)
        return Term(((ELLIPSIS,) if has_ellipsis else ()) + tuple(once))

    def effective_output(self) -> Term:
        return self.output if self.output is not None else self.implicit_output()

    def text(self) -> str:
        """The equation in canonical spelling (no spaces)."""
        inputs = ",".join(term.text() for term in self.inputs)
        if self.output is None:
            return inputs
        return f"{inputs}->{self.output.text()}"

    def with_explicit_output(self) -> Equation:
        return Equation(self.inputs, self.effective_output())


@lru_cache(maxsize=4096)
def parse_equation(text: str) -> Equation:
    """Parse ``text``; raise EquationSyntaxError for characters or arrows torch would reject. Cached:
    several rules parse each einsum's equation, and a file repeats a few equations many times; the
    result is frozen."""
    arrow = text.find("->")
    if text.count("->") > 1:
        raise EquationSyntaxError("more than one '->' in the equation", text.find("->", arrow + 1))
    left, right = (text, None) if arrow < 0 else (text[:arrow], text[arrow + 2 :])
    inputs = _parse_terms(left, 0)
    output = None
    if right is not None:
        output_terms = _parse_terms(right, arrow + 2)
        if len(output_terms) != 1:
            comma = right.find(",")
            raise EquationSyntaxError("the output has a ',' (it is a single term)", arrow + 2 + comma)
        output = output_terms[0]
    return Equation(tuple(inputs), output)


def _parse_terms(text: str, offset: int) -> list[Term]:
    terms: list[Term] = []
    labels: list[str] = []
    offsets: list[int] = []
    term_start = offset
    index = 0
    while index < len(text):
        char = text[index]
        if char in LABEL_CHARACTERS:
            labels.append(char)
            offsets.append(offset + index)
        elif char == ".":
            if text[index : index + 3] != ELLIPSIS:
                raise EquationSyntaxError("a '.' that is not part of an ellipsis '...'", offset + index)
            labels.append(ELLIPSIS)
            offsets.append(offset + index)
            index += 2
        elif char == ",":
            terms.append(Term(tuple(labels), offsets[0] if offsets else term_start, tuple(offsets)))
            labels, offsets, term_start = [], [], offset + index + 1
        elif char == " ":
            pass
        elif char in "->":
            raise EquationSyntaxError("a malformed arrow (write '->')", offset + index)
        else:
            raise EquationSyntaxError(f"invalid character {char!r} (labels are ASCII letters)", offset + index)
        index += 1
    terms.append(Term(tuple(labels), offsets[0] if offsets else term_start, tuple(offsets)))
    return terms


def build_equation(inputs: list[list[str]] | tuple[tuple[str, ...], ...], output: list[str] | tuple[str, ...]) -> str:
    """Build an explicit equation from label lists; the rewriter's way to produce equations."""
    return Equation(tuple(Term(tuple(term)) for term in inputs), Term(tuple(output))).text()
