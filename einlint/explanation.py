"""A rule's whole documentation as one text: what `einlint --explain CODE` prints and what SARIF
carries as the rule's help, so that an editor or code-scanning page shows the same words."""

from __future__ import annotations

from typing import TYPE_CHECKING

from einlint.soundness import soundness_section

if TYPE_CHECKING:
    from einlint.rules.base import Rule

# Where the README (rule table, fix tiers, assumptions) is published; SARIF names it as each rule's help.
PROJECT_PAGE = "https://pypi.org/project/einlint/"


def explanation(rule: type[Rule]) -> str:
    return f"{rule.code} ({rule.name})\n\n{rule.documentation()}\n\n{soundness_section(rule.soundness)}"
