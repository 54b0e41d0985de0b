"""What a rule and the engine share, and nothing more: the trigger words that let the engine skip code
a rule cannot match, a rule's proposed fix and what verifying it runs, its examples, and what the engine asks of a rule class.

Both layers import this module and neither imports the other for it: the engine never imports the
rules. It finds them when first asked, through ``available_rules``, as it would find plugins."""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

import libcst as cst

from einlint.diagnostics import Applicability, Edit

if TYPE_CHECKING:
    from einlint.engine.candidates import Candidate, Words
    from einlint.engine.context import FileAnalysis, RuleContext
    from einlint.observe.einsum_calls import EinsumCall
    from einlint.observe.observations import SiteObservation

# The package whose ``all_rules()`` lists every rule.
RULES_PACKAGE = "einlint.rules"


@dataclass(frozen=True)
class Triggers:
    """Words (names or attribute names) and operators without which a statement cannot match."""

    names: frozenset[str] = frozenset()
    matmul_operator: bool = False

    def __or__(self, other: Triggers) -> Triggers:
        return Triggers(self.names | other.names, self.matmul_operator or other.matmul_operator)


@dataclass(frozen=True)
class Example:
    """Code the rule must flag (``fixed`` is the expected rewrite, None when it has no fix) or, in a
    rule's ``valid`` list, code it must leave alone."""

    code: str
    fixed: str | None = None
    unsafe: bool = False


@dataclass(frozen=True)
class Binding:
    """A name the verified expression reads whose value the fix moves: a folded temporary (``kt =
    k.transpose(-1, -2)``, deleted by the fix), a binding the fix drops a copy from, a definition the
    fix adds. Each side's value is put, in parentheses, where that side reads the name; None: that
    side does not read it."""

    name: str
    original: cst.CSTNode | str | None
    rewritten: cst.CSTNode | str | None


@dataclass(frozen=True)
class VerificationTarget:
    """What ``--verify`` runs for a fix, as the rule knows it: ``consumer``, the whole expression that
    consumes the rewrite (every node the fix replaces lies inside it), before the fix and with the
    fix's edits applied inside it. A dropped ``.contiguous()`` is verified in the contraction that
    reads the operand, where the change shows; never as the operand alone, which always agrees.

    ``what`` names that expression for the verdict ("the einsum call that consumes the removed
    copy"); ``operands`` and ``equation`` are the contraction's, where it has them; ``in_place_matmul``
    is ``x`` for ``x @= v`` (``consumer`` is ``v``): the original is the product ``x @ (v)`` that
    ``@=`` binds."""

    what: str
    consumer: cst.CSTNode
    operands: tuple[cst.CSTNode | str, ...] = ()
    equation: str = ""
    bindings: tuple[Binding, ...] = ()
    in_place_matmul: str | None = None


@dataclass(frozen=True)
class FixProposal:
    """A rule's proposed replacement of one node; the engine turns it into character edits."""

    node: cst.CSTNode
    replacement: cst.CSTNode | str
    applicability: Applicability = Applicability.SAFE
    assumptions: tuple[str, ...] = ()
    # Further (node, replacement) pairs in the same unit, e.g. a temporary that is folded away.
    extra: tuple[tuple[cst.CSTNode, cst.CSTNode | str], ...] = field(default=())
    # Edits outside the unit, by character offsets (deleting a folded temporary's statement).
    extra_edits: tuple[Edit, ...] = field(default=())
    # What verifying the fix runs; every rule that proposes a fix says.
    target: VerificationTarget | None = None


class RuleClass(Protocol):
    """What the engine uses of a rule class (``einlint.rules.base.Rule`` and its subclasses): its
    identity and triggers, the two cheap tests before a unit is parsed, and a visitor per unit."""

    code: str
    name: str
    triggers: Triggers
    enabled_by_default: bool
    needs_torch_import: bool
    observed_only: bool  # reports only from ``einlint observe``'s observations (``observed_findings``)
    silent_beside: frozenset[str]

    def __call__(self, context: RuleContext) -> cst.CSTVisitor: ...

    def applies(self, words: Words) -> bool: ...

    def needs_unit(self, candidate: Candidate, analysis: FileAnalysis) -> bool: ...

    def observed_findings(self, call: EinsumCall, site: SiteObservation) -> tuple[str, ...]: ...


def available_rules() -> tuple[RuleClass, ...]:
    """Every rule, sorted by code; the rules package is imported on the first call, not with the engine."""
    return importlib.import_module(RULES_PACKAGE).all_rules()
