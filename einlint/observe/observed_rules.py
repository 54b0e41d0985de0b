"""Findings of the rules that report only from observations (``observed_only``): each recorded
``torch.einsum`` call is handed to every such rule the file's settings enable, and what they report
is filtered like any finding (``per-file-ignores``, ``# noqa``). Static linting never produces them.
"""

from __future__ import annotations

import ast

from einlint.config import Settings
from einlint.diagnostics import Diagnostic, Observed
from einlint.engine.noqa import is_suppressed
from einlint.engine.source import SourceText
from einlint.observe.einsum_calls import einsum_calls
from einlint.observe.observations import Observations
from einlint.rule_protocol import RuleClass, available_rules


def observed_only_rules(settings: Settings, path: str) -> tuple[RuleClass, ...]:
    """The rules that report only from observations that ``settings`` enable for ``path``."""
    return tuple(
        rule for rule in available_rules()
        if rule.observed_only and settings.rule_enabled(rule.code, rule.enabled_by_default) and not settings.ignored_in_file(rule.code, path)
    )  # fmt: skip


def observed_findings(
    path: str, text: str, observations: Observations, settings: Settings, static: list[Diagnostic], tree: ast.Module | None = None
) -> list[Diagnostic]:
    """The findings of the observation-only rules at the einsum calls of one file (its current
    ``text``); ``static`` are the file's other findings (a rule stays silent beside its ``silent_beside``)."""
    relative = observations.relative(path)
    if relative is None or relative not in observations.paths():
        return []
    rules = observed_only_rules(settings, path)
    if not rules:
        return []
    source = SourceText(path, text)
    found = []
    for call in einsum_calls(text, tree):
        statement = call.statement
        site = observations.at(relative, statement.line, statement.statement_hash)
        if site is None or not site.executions:
            continue
        beside = {d.code for d in static if statement.line <= d.line <= statement.end_line}
        measured = Observed("measured", site.executions, site.seconds, site.raised)
        for rule in rules:
            if rule.silent_beside & beside:
                continue
            for message in rule.observed_findings(call, site):
                finding = Diagnostic(
                    path, call.line, call.col, call.end_line, call.end_col, rule.code, message,
                    noqa_lines=(statement.line, statement.end_line), observed=measured,
                )  # fmt: skip
                if not is_suppressed(finding, source):
                    found.append(finding)
    return found
