"""Reporters turn the run's findings into text for people (text), tools (json, sarif) or CI (github)."""

from __future__ import annotations

from collections.abc import Callable

from einlint.diagnostics import Diagnostic
from einlint.reporters import github, json_report, sarif, text

Reporter = Callable[[list[Diagnostic], bool], str]

REPORTERS: dict[str, Reporter] = {
    "text": text.render,
    "json": json_report.render,
    "sarif": sarif.render,
    "github": github.render,
}
