"""flake8 adapter: the same engine and rules on the ``ast`` tree flake8 already parsed.

Findings are identical to the CLI's (code, line, column): flake8 prints the 0-based column a plugin
yields plus one, as the CLI does. Each file gets the settings of its own nearest ``[tool.einlint]``
configuration, resolved exactly as the CLI resolves them. Line-level ``# noqa`` is left to flake8, whose
semantics the CLI copies; the file-level ``# einlint: noqa`` is einlint's own and applied here.
A broken configuration is raised, so flake8 reports it, rather than silently linting with defaults.

Observations are read as the CLI reads them: ``.einlint/observations.json`` beside the nearest
``pyproject.toml`` of the directory flake8 runs in, or the file ``--einlint-observations PATH``
names; findings are judged against them (observed, withdrawn, not observed) with the same messages,
the rules that report only from observations add theirs, and what was measured is appended as in the CLI's text output. A damaged default file is a warning
on stderr and linting goes on without it; a named file that cannot be read is raised.
"""

from __future__ import annotations

import ast
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from einlint import __version__
from einlint.config import Configuration
from einlint.reporters import printable
from einlint.reporters.text import observed_note

if TYPE_CHECKING:
    from einlint.observe.observations import Observations

_CONFIGURATION = Configuration()


class EinlintChecker:
    name = "einlint"
    version = __version__
    # --einlint-observations: the observations file to read (None: the CLI's default path).
    observations_path: str | None = None

    @classmethod
    def add_options(cls, parser: Any) -> None:
        parser.add_option(
            "--einlint-observations", default=None, parse_from_config=True, metavar="PATH",
            help="the observations file einlint observe wrote (default: .einlint/observations.json beside the nearest pyproject.toml)",
        )  # fmt: skip

    @classmethod
    def parse_options(cls, options: Any) -> None:
        cls.observations_path = getattr(options, "einlint_observations", None)

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
        diagnostics = result.diagnostics
        observations = _observations(self.observations_path)
        if observations is not None and not path.endswith(".ipynb"):
            from einlint.observe.judgement import judge_file

            diagnostics = judge_file(diagnostics, source.text, observations, settings.assume, settings, path)
        exemption = file_exemption(source.text)
        for diagnostic in diagnostics:
            if not exemption.covers(diagnostic.code):
                text = f"{diagnostic.code} {diagnostic.message}{observed_note(diagnostic.observed)}"
                yield diagnostic.line, diagnostic.col, text, type(self)


# The observations read in this process: (path, size, modification time) -> what was read.
_OBSERVATIONS: dict[tuple[str, int, int], Observations | None] = {}


def _observations(named: str | None) -> Observations | None:
    """What ``einlint observe`` recorded, read once per process and file version, as the CLI reads it."""
    from einlint.observe.observations import ObservationsError, default_path, read

    path = Path(named) if named else default_path()
    try:
        status = path.stat()
    except OSError:
        if named:
            raise ObservationsError(f"--einlint-observations: no such file: {named}") from None
        return None
    key = (str(path.absolute()), status.st_size, status.st_mtime_ns)
    if key not in _OBSERVATIONS:
        try:
            _OBSERVATIONS[key] = read(path)
        except ObservationsError as error:
            if named:
                raise
            print(f"einlint: warning: {printable(str(error))}; observations not used", file=sys.stderr)
            _OBSERVATIONS[key] = None
    return _OBSERVATIONS[key]
