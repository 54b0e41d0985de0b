"""flake8 adapter: the same engine and rules on the ``ast`` tree flake8 already parsed.

Findings are identical to the CLI's (code, line, column): flake8 prints the 0-based column a plugin
yields plus one, as the CLI does. ``# noqa`` is left to flake8, whose semantics the CLI copies.
"""

from __future__ import annotations

import ast
import os
from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path
from typing import Any

from einlint import __version__
from einlint.config import ConfigError, Settings, load_settings


@lru_cache(maxsize=64)
def _settings_for(directory: str) -> Settings:
    try:
        return load_settings(Path(directory))
    except ConfigError:
        return Settings()


class EinlintChecker:
    name = "einlint"
    version = __version__

    def __init__(self, tree: ast.Module, filename: str, lines: list[str]) -> None:
        self.tree = tree
        self.filename = filename
        self.lines = lines

    def run(self) -> Iterator[tuple[int, int, str, type[Any]]]:
        from einlint.engine.driver import _rule_set
        from einlint.engine.runner import lint_source
        from einlint.engine.source import SourceText

        directory = os.path.dirname(os.path.abspath(self.filename)) if self.filename not in ("stdin", "-") else os.getcwd()
        settings = _settings_for(directory)
        source = SourceText(self.filename, "".join(self.lines))
        result = lint_source(source, settings, _rule_set(settings), tree=self.tree, apply_noqa=False)
        for diagnostic in result.diagnostics:
            yield diagnostic.line, diagnostic.col, f"{diagnostic.code} {diagnostic.message}", type(self)
