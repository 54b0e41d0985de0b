"""The prefilter (trigger-word scan, statement location, per-rule word check) may only skip code that
no rule can match: with every stage turned off, every rule finds exactly what a normal run finds."""

from __future__ import annotations

import os
import random
from pathlib import Path

import pytest

from einlint.config import Settings
from einlint.engine.runner import RuleSet, lint_source
from einlint.engine.source import SourceError, SourceText
from einlint.rules import all_rules

ROOT = Path(__file__).resolve().parent.parent
CORPUS = Path(os.environ.get("EINLINT_CORPUS", Path.home() / ".cache" / "einlint-corpus"))
EVERY_RULE = Settings(select=tuple(rule.code for rule in all_rules()))


def _own_files() -> list[Path]:
    return sorted([*ROOT.glob("fixtures/**/*.py"), *ROOT.glob("examples/**/*.py")])


def _corpus_sample(count: int = 60) -> list[Path]:
    files = sorted(CORPUS.glob("*/**/*.py"))
    return random.Random(7).sample(files, min(count, len(files))) if files else []


def _findings(path: Path, exhaustive: bool) -> set[tuple[int, int, str]]:
    try:
        source = SourceText.from_bytes(str(path), path.read_bytes())
    except SourceError:
        pytest.skip("not text")
    result = lint_source(source, EVERY_RULE, RuleSet.for_settings(EVERY_RULE), exhaustive=exhaustive)
    return {(d.line, d.col, d.code) for d in result.diagnostics}


@pytest.mark.parametrize("path", _own_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_prefilter_skips_nothing_in_fixtures(path: Path) -> None:
    assert _findings(path, exhaustive=True) == _findings(path, exhaustive=False)


@pytest.mark.skipif(not CORPUS.is_dir(), reason="corpus not downloaded (../shared/tools/fetch-corpus)")
@pytest.mark.parametrize("path", _corpus_sample(), ids=lambda p: p.name)
def test_prefilter_skips_nothing_in_corpus_sample(path: Path) -> None:
    assert _findings(path, exhaustive=True) == _findings(path, exhaustive=False)


def test_exhaustive_mode_is_not_vacuous() -> None:
    # A file whose only trigger sits where the prefilter cannot see a word: the exhaustive run must
    # still parse and check it (so the comparisons above compare real work).
    source = SourceText("t.py", "import torch\nx = torch.einsum('ij->iz', torch.randn(2, 3))\n")
    found = lint_source(source, EVERY_RULE, RuleSet.for_settings(EVERY_RULE), exhaustive=True)
    assert [d.code for d in found.diagnostics] == ["EIN003"]
