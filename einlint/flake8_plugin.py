"""flake8 adapter: the same engine and rules on the ``ast`` tree flake8 already parsed.

Findings are identical to the CLI's (code, line, column): flake8 prints the 0-based column a plugin
yields plus one, as the CLI does. Each file gets the settings of its own nearest ``[tool.einlint]``
configuration, resolved exactly as the CLI resolves them. Line-level ``# noqa`` is left to flake8, whose
semantics the CLI copies; the file-level ``# einlint: noqa`` is einlint's own and applied here.
A broken configuration is raised, so flake8 reports it, rather than silently linting with defaults.
"""

from __future__ import annotations

import ast
import os
from collections.abc import Iterator
from typing import Any

from einlint import __version__
from einlint.config import Configuration

_CONFIGURATION = Configuration()


class EinlintChecker:
    name = "einlint"
    version = __version__

    def __init__(self, tree: ast.Module, filename: str, lines: list[str]) -> None:
        self.tree = tree
        self.filename = filename
        self.lines = lines

    def run(self) -> Iterator[tuple[int, int, str, type[Any]]]:
        from einlint.engine.driver import _rule_set
        from einlint.engine.noqa import file_exemption
        from einlint.engine.runner import lint_source
        from einlint.engine.source import SourceText

        path = self.filename if self.filename not in ("stdin", "-") else os.path.join(os.getcwd(), "stdin.py")
        settings = _CONFIGURATION.for_path(path)
        source = SourceText(self.filename, "".join(self.lines))
        result = lint_source(source, settings, _rule_set(settings), tree=self.tree, apply_noqa=False)
        exemption = file_exemption(source.text)
        for diagnostic in result.diagnostics:
            if not exemption.covers(diagnostic.code):
                yield diagnostic.line, diagnostic.col, f"{diagnostic.code} {diagnostic.message}", type(self)
