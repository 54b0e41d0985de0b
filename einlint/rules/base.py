"""What a rule is: a libcst visitor with a code, a doc, examples, and the trigger words that let the
engine skip code the rule cannot match. Rules report through their context; they never parse files,
resolve imports or reason about operands themselves."""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING, ClassVar

import libcst as cst

# The types a rule shares with the engine live in the neutral rule_protocol module; rules take them
# from here with Rule.
from einlint.rule_protocol import Binding, Example, FixProposal, Triggers, VerificationTarget
from einlint.soundness import SoundnessFamily

if TYPE_CHECKING:
    from einlint.engine.candidates import Candidate, Words
    from einlint.engine.context import FileAnalysis, RuleContext
    from einlint.observe.einsum_calls import EinsumCall
    from einlint.observe.observations import SiteObservation

__all__ = ["Binding", "Example", "FixProposal", "Rule", "SoundnessFamily", "Triggers", "VerificationTarget"]


class Rule(cst.CSTVisitor):
    """Base class. A rule's doc string has four parts, in order: what it flags, why it matters, the fix,
    and why the fix is safe or what it assumes; ``einlint --explain CODE`` prints it."""

    code: ClassVar[str]
    name: ClassVar[str]
    triggers: ClassVar[Triggers]
    enabled_by_default: ClassVar[bool] = True
    # A rule about torch code stays silent in a module that imports no part of torch: what it sees
    # there (``a @ b.T``, ``x.view(...)``) is numpy or another library's.
    needs_torch_import: ClassVar[bool] = True
    invalid: ClassVar[tuple[Example, ...]] = ()
    valid: ClassVar[tuple[str, ...]] = ()
    # Each family of programs where this rule's fix could change what the code computes, with one
    # sentence on how the fix handles it (and what it does not handle yet); empty for a rule without a
    # fix. ``einlint --explain`` prints it after the doc string.
    soundness: ClassVar[Mapping[SoundnessFamily, str]] = MappingProxyType({})
    # A rule that reports only what ``einlint observe`` recorded at a ``torch.einsum`` call, never from
    # the code alone: the engine never runs its visitor (``applies`` is False), and linting asks its
    # ``observed_findings`` about each recorded call instead.
    observed_only: ClassVar[bool] = False
    # Codes whose finding on the same statement already says what this rule would (it stays silent there).
    silent_beside: ClassVar[frozenset[str]] = frozenset()

    def __init__(self, context: RuleContext) -> None:
        super().__init__()
        self.context = context

    @classmethod
    def applies(cls, words: Words) -> bool:
        """Could this rule match a statement that mentions ``words``? Decided before libcst parses it."""
        if cls.observed_only:
            return False
        return bool(cls.triggers.names & words.names) or (cls.triggers.matmul_operator and words.has_matmul)

    @classmethod
    def observed_findings(cls, call: EinsumCall, site: SiteObservation) -> tuple[str, ...]:
        """The messages an ``observed_only`` rule reports at one einsum call from its observations."""
        return ()

    @classmethod
    def needs_unit(cls, candidate: Candidate, analysis: FileAnalysis) -> bool:
        """A closer look at a candidate (its ``ast``) before libcst parses it, for rules whose trigger
        words are common; True unless overridden. Never called in exhaustive runs, which the tests
        compare with normal ones, so an override must only say False where the rule cannot report."""
        return True

    def report(self, node: cst.CSTNode, message: str, fix: FixProposal | None = None) -> None:
        self.context.report(self.code, node, message, fix)

    @classmethod
    def documentation(cls) -> str:
        return inspect.cleandoc(cls.__doc__ or "")

    @classmethod
    def summary(cls) -> str:
        return cls.documentation().splitlines()[0] if cls.__doc__ else cls.name
