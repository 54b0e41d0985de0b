"""Lint one file's source: decode, prefilter, locate candidates with ``ast``, parse them with libcst,
run the selected rules, drop suppressed findings."""

from __future__ import annotations

import ast
import gc
import time
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import lru_cache

from einlint.config import Settings
from einlint.diagnostics import Diagnostic, FileError
from einlint.engine.candidates import Words, find_candidates, hit_lines, trigger_pattern
from einlint.engine.context import FileAnalysis, RuleContext
from einlint.engine.noqa import is_suppressed
from einlint.engine.source import SourceError, SourceText
from einlint.engine.units import Unit
from einlint.engine.walk import walk
from einlint.rule_protocol import RuleClass, Triggers, available_rules


@dataclass
class FileResult:
    path: str
    diagnostics: list[Diagnostic] = field(default_factory=list)
    error: FileError | None = None
    source: SourceText | None = None
    # Seconds per stage and per rule, filled only when profiling.
    profile: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class RuleSet:
    rules: tuple[RuleClass, ...]

    @classmethod
    def for_settings(cls, settings: Settings) -> RuleSet:
        return cls(tuple(rule for rule in available_rules() if settings.rule_enabled(rule.code, rule.enabled_by_default)))

    @property
    def chain_kinds(self) -> frozenset:
        return frozenset(getattr(rule, "kind") for rule in self.rules if hasattr(rule, "kind"))

    @property
    def triggers(self) -> Triggers:
        combined = Triggers()
        for rule in self.rules:
            combined = combined | rule.triggers
        return combined


@lru_cache(maxsize=8)
def _compiled_pattern(triggers: Triggers):
    return trigger_pattern(triggers)


def lint_bytes(path: str, data: bytes, settings: Settings, rule_set: RuleSet, profile: bool = False) -> FileResult:
    try:
        source = SourceText.from_bytes(path, data)
    except SourceError as error:
        return FileResult(path, error=FileError(path, str(error)))
    return lint_source(source, settings, rule_set, profile=profile)


def lint_source(
    source: SourceText,
    settings: Settings,
    rule_set: RuleSet,
    tree: ast.Module | None = None,
    profile: bool = False,
    apply_noqa: bool = True,
    exhaustive: bool = False,
) -> FileResult:
    """Lint ``source``. ``exhaustive`` turns every prefilter off (every line a hit, every statement a
    candidate, every rule applicable): the tests compare it with a normal run to prove the prefilter
    only ever skips code that cannot match."""
    result = FileResult(source.path, source=source)
    timings: dict[str, float] = defaultdict(float)
    clock = time.perf_counter
    started = clock()
    triggers = rule_set.triggers
    if exhaustive:
        lines = list(range(1, len(source.line_starts) + 1))
    else:
        lines = hit_lines(source.text, _compiled_pattern(triggers), source.line_starts)
    timings["prefilter"] += clock() - started
    started = clock()
    if tree is None:
        try:
            tree = _parse(source)
        except SyntaxError as error:
            where = f"line {error.lineno}: " if error.lineno else ""
            result.error = FileError(source.path, f"does not parse: {where}{error.msg}")
            return result
        except (ValueError, RecursionError, MemoryError) as error:
            result.error = FileError(source.path, f"does not parse: {parse_failure(error)}")
            return result
    timings["ast"] += clock() - started
    if not lines:
        # Parsed only so that a syntax error is reported for every file, as the CLI promises.
        result.profile = dict(timings)
        return result
    with _outside_cyclic_gc():
        return _lint_tree(source, settings, rule_set, tree, lines, result, timings, profile, apply_noqa, exhaustive)


@contextmanager
def _outside_cyclic_gc() -> Iterator[None]:
    """Move every object alive now (the file's ast above all) out of the cyclic collector's reach
    while the rules run: each full collection would traverse the whole tree again, a quarter of the
    time on a large file. The tree holds no reference cycles, so reference counting alone frees it."""
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


def _lint_tree(
    source: SourceText,
    settings: Settings,
    rule_set: RuleSet,
    tree: ast.Module,
    lines: list[int],
    result: FileResult,
    timings: dict[str, float],
    profile: bool,
    apply_noqa: bool,
    exhaustive: bool,
) -> FileResult:
    clock = time.perf_counter
    triggers = rule_set.triggers
    started = clock()
    pragma_lines = [source.line_text(n) for n in range(1, len(source.line_starts) + 1)] if "einlint:" in source.text else []
    analysis = FileAnalysis(tree, pragma_lines, settings.assume, rule_set.chain_kinds, source.text, settings.line_length)
    rules = rule_set.rules
    if not analysis.imports.imports_module("torch"):
        rules = tuple(rule for rule in rules if not rule.needs_torch_import)
        if not rules:
            timings["locate"] += clock() - started
            result.profile = dict(timings)
            return result
    aliases = analysis.imports.aliases_of(triggers.names)
    if aliases and not exhaustive:
        # ``from torch import einsum as es``: the alias is a trigger word in this file.
        triggers = Triggers(triggers.names | aliases, triggers.matmul_operator)
        lines = hit_lines(source.text, trigger_pattern(triggers), source.line_starts)
    alias_targets = {alias: analysis.imports.aliases[alias].rsplit(".", 1)[-1] for alias in aliases}

    def wanted(words: Words) -> bool:
        if exhaustive:
            return True
        if alias_targets:
            extra = {alias_targets[name] for name in words.names & aliases}
            words = Words(words.names | extra, words.has_matmul, words.has_multiply) if extra else words
        return any(rule.applies(words) for rule in rules)

    candidates = find_candidates(tree, lines, wanted)
    timings["locate"] += clock() - started
    if not candidates:
        result.profile = dict(timings)
        return result
    found: list[Diagnostic] = []
    for candidate in candidates:
        words = candidate.words
        extra = {alias_targets[name] for name in words.names & aliases}
        if extra:
            words = Words(words.names | extra, words.has_matmul, words.has_multiply)
        if exhaustive:
            applicable = list(rules)
        else:
            applicable = [rule for rule in rules if rule.applies(words) and rule.needs_unit(candidate, analysis)]
            if not applicable:
                continue
        started = clock()
        unit = Unit.parse(candidate, source)
        timings["libcst"] += clock() - started
        if unit is None:
            continue
        started = clock()
        context = RuleContext(unit, analysis, source.path, found)
        walk(unit.root, [rule(context) for rule in applicable])
        timings["rules"] += clock() - started
    result.diagnostics = sorted({d for d in found if not settings.ignored_in_file(d.code, source.path) and not (apply_noqa and is_suppressed(d, source))})
    result.profile = dict(timings) if profile else {}
    return result


def parse_failure(error: Exception) -> str:
    """The reason, in one line, for a parser failure that is not a SyntaxError (MemoryError comes with
    no message of its own)."""
    if isinstance(error, MemoryError):
        return "Python's parser ran out of memory (the code is nested or sized beyond what it handles)"
    if isinstance(error, RecursionError):
        return "nested too deeply for Python's parser"
    lines = str(error).strip().splitlines()
    return f"{type(error).__name__}: {lines[0]}" if lines else type(error).__name__


def _parse(source: SourceText) -> ast.Module:
    # ast building allocates millions of objects; the cyclic collector only slows that down.
    enabled = gc.isenabled()
    gc.disable()
    try:
        return ast.parse(source.text, filename=source.path)
    finally:
        if enabled:
            gc.enable()
