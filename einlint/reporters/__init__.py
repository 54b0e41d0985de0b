"""Reporters turn the run's per-file reports into text for people (text), tools (json, sarif) or CI
(github). They read ``FindingView``s: a finding with its display position (the cell and the line in
it, for a notebook) and its fix's edits as line/column ranges."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from einlint.diagnostics import Diagnostic, FileError, Fix

# C0 and C1 control characters, DEL, and the bidirectional overrides that reorder what a terminal
# shows: never written raw from source text (paths, messages) to a terminal or a CI log.
_UNPRINTABLE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069\u2028\u2029]")


def printable(text: str) -> str:
    """``text`` with every control character written as an escape (``\\x1b``, ``\\u202e``)."""
    if text.isprintable():
        return text
    return _UNPRINTABLE.sub(lambda match: match.group().encode("unicode_escape").decode("ascii"), text.replace("\t", " "))


@dataclass(frozen=True)
class Place:
    line: int  # 1-based; in a notebook, the line in the cell
    column: int  # 1-based, in characters
    cell: int | None = None  # 1-based cell number in a notebook


@dataclass(frozen=True)
class EditView:
    start: Place
    end: Place
    content: str


@dataclass(frozen=True)
class FindingView:
    diagnostic: Diagnostic
    start: Place
    end: Place
    fix: Fix | None  # the fix shown under this file's tier setting
    edits: tuple[EditView, ...]

    @property
    def path(self) -> str:
        return self.diagnostic.path


@dataclass(frozen=True)
class ReportInput:
    findings: list[FindingView]
    errors: list[FileError]


def _place(locator, line: int, col: int) -> Place:
    if locator is None:
        return Place(line, col + 1)
    cell, cell_line = locator.cell_of(line)
    return Place(cell_line, col + 1, cell)


def build_input(reports: Iterable, by_time: bool = False) -> ReportInput:
    """The findings in report order, or with ``by_time`` the ones with the most measured time first
    (findings without observations keep their order, after them)."""
    findings: list[FindingView] = []
    errors: list[FileError] = []
    for report in reports:
        errors.extend(report.errors)
        locator = report.locator
        for diagnostic in report.diagnostics:
            fix = diagnostic.fix_shown(report.unsafe_fixes)
            edits: tuple[EditView, ...] = ()
            if fix is not None and locator is not None:
                edits = tuple(
                    EditView(_place(locator, *locator.position(edit.start)), _place(locator, *locator.position(edit.end)), edit.replacement)
                    for edit in fix.edits
                )
            findings.append(
                FindingView(
                    diagnostic,
                    _place(locator, diagnostic.line, diagnostic.col),
                    _place(locator, diagnostic.end_line, diagnostic.end_col),
                    fix,
                    edits,
                )
            )
    if by_time:
        findings.sort(key=lambda view: -(view.diagnostic.observed.seconds if view.diagnostic.observed else -1.0))
    return ReportInput(findings, errors)


def _reporters() -> dict[str, Callable[[ReportInput], str]]:
    from einlint.reporters import github, json_report, sarif, text

    return {"text": text.render, "json": json_report.render, "sarif": sarif.render, "github": github.render}


REPORTER_NAMES = ("text", "json", "sarif", "github")


def render(format_name: str, reports: Iterable, by_time: bool = False) -> str:
    return _reporters()[format_name](build_input(reports, by_time))
