"""Run einlint over many files: discover, consult the cache, lint or fix in a process pool, and return
per-file reports in a stable order."""

from __future__ import annotations

import difflib
import os
import warnings
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from einlint.config import Settings
from einlint.diagnostics import Diagnostic, FileError
from einlint.engine.cache import ResultCache, content_key, default_cache_dir
from einlint.engine.files import PathProblem, discover

# Below this many files a process pool costs more than it saves.
POOL_THRESHOLD = 8


@dataclass(frozen=True)
class RunOptions:
    fix: bool = False
    diff: bool = False
    unsafe_fixes: bool = False
    jobs: int = 0  # 0: one per CPU
    use_cache: bool = True
    cache_dir: Path | None = None
    profile: bool = False
    # Under --fix/--diff, a fix is applied only if this accepts it (the finding and the file's current
    # text); ``einlint --fix --verify`` passes the fixes the verifier approved. Must be picklable.
    fix_filter: Callable[[Diagnostic, str], bool] | None = None


@dataclass
class FileReport:
    path: str
    diagnostics: list[Diagnostic] = field(default_factory=list)
    errors: list[FileError] = field(default_factory=list)
    fixed: int = 0
    diff: str = ""
    profile: dict[str, float] = field(default_factory=dict)


@lru_cache(maxsize=4)
def _rule_set(settings: Settings):
    from einlint.engine.runner import RuleSet

    return RuleSet.for_settings(settings)


def process_file(path: str, settings: Settings, options: RunOptions, data: bytes | None = None) -> FileReport:
    """Lint (and under --fix/--diff, fix) one file. Never raises for a problem with the file itself."""
    from einlint.engine.fixer import fix_source, write_atomically
    from einlint.engine.runner import lint_bytes
    from einlint.engine.source import SourceError, SourceText

    report = FileReport(path)
    if data is None:
        try:
            with open(path, "rb") as handle:
                data = handle.read()
        except OSError as error:
            report.errors.append(FileError(path, f"cannot read: {error.strerror or error}"))
            return report
    rule_set = _rule_set(settings)
    if not (options.fix or options.diff):
        result = lint_bytes(path, data, settings, rule_set, profile=options.profile)
        report.diagnostics = result.diagnostics
        report.profile = result.profile
        if result.error:
            report.errors.append(result.error)
        return report
    try:
        source = SourceText.from_bytes(path, data)
    except SourceError as error:
        report.errors.append(FileError(path, str(error)))
        return report
    outcome = fix_source(source, settings, rule_set, options.unsafe_fixes, options.fix_filter)
    report.diagnostics = outcome.remaining
    report.fixed = len(outcome.applied)
    if outcome.error:
        report.errors.append(outcome.error)
    if outcome.text != source.text:
        if options.diff:
            report.diff = "".join(
                difflib.unified_diff(
                    source.text.splitlines(keepends=True), outcome.text.splitlines(keepends=True), *_diff_names(path)
                )
            )
        else:
            problem = write_atomically(path, source.encode(outcome.text), data)
            if problem:
                report.errors.append(FileError(path, problem))
                report.fixed = 0
    return report


def _rules_fingerprint(settings: Settings) -> str:
    """The enabled rules and the state of einlint's own files: an edited checkout or a new rule must
    not be served results computed by different code."""
    rule_set = _rule_set(settings)
    package = Path(__file__).resolve().parent.parent
    stamps = []
    for path in sorted(package.rglob("*.py")):
        try:
            status = path.stat()
        except OSError:
            continue
        stamps.append(f"{path.relative_to(package)}:{status.st_size}:{status.st_mtime_ns}")
    return "|".join(rule.code for rule in rule_set.rules) + "|" + ",".join(stamps)


def _diff_names(path: str) -> tuple[str, str]:
    if os.path.isabs(path):
        return path, path
    return f"a/{path}", f"b/{path}"


def _process_task(task: tuple[str, Settings, RunOptions, bytes | None]) -> FileReport:
    path, settings, options, data = task
    try:
        with warnings.catch_warnings():
            # The parser warns about the code it reads (an invalid escape or decimal literal): that is the
            # file's business, not a line for einlint's stderr, and under -W error it must not fail the parse.
            warnings.simplefilter("ignore", SyntaxWarning)
            warnings.simplefilter("ignore", DeprecationWarning)
            return process_file(path, settings, options, data)
    except RecursionError:
        # Valid code can nest deeper than libcst's recursive visitors go (e.g. ~150 nested calls).
        return FileReport(path, errors=[FileError(path, "nested too deeply for einlint to analyse; not checked")])
    except Exception as error:  # noqa: BLE001 - one file's bug must not end the run
        return FileReport(path, errors=[FileError(path, f"internal error: {type(error).__name__}: {error}", internal=True)])


def run(
    paths: list[str], settings: Settings, options: RunOptions, on_progress: Callable[[int, int], None] | None = None
) -> list[FileReport]:
    reports: dict[str, FileReport] = {}
    files: list[str] = []
    for item in discover(paths, settings):
        if isinstance(item, PathProblem):
            reports.setdefault(item.path, FileReport(item.path)).errors.append(FileError(item.path, item.reason))
        elif item not in reports:
            files.append(item)
            reports[item] = FileReport(item)
    cache = None
    if options.use_cache and not (options.fix or options.diff or options.profile):
        cache = ResultCache(options.cache_dir or default_cache_dir(), settings.cache_key() + _rules_fingerprint(settings))
    tasks = []
    keys: dict[str, str] = {}
    for path in files:
        data = None
        if cache is not None:
            try:
                with open(path, "rb") as handle:
                    data = handle.read()
            except OSError as error:
                reports[path].errors.append(FileError(path, f"cannot read: {error.strerror or error}"))
                continue
            keys[path] = content_key(path, data)
            cached = cache.get(keys[path])
            if cached is not None:
                reports[path].diagnostics = cached
                continue
        tasks.append((path, settings, options, data))
    total, done = len(tasks), 0
    jobs = options.jobs or os.cpu_count() or 1
    if jobs > 1 and len(tasks) >= POOL_THRESHOLD:
        with ProcessPoolExecutor(max_workers=jobs) as pool:
            chunk = max(1, min(16, len(tasks) // (jobs * 8)))
            for report in pool.map(_process_task, tasks, chunksize=chunk):
                reports[report.path] = report
                done += 1
                if on_progress:
                    on_progress(done, total)
    else:
        for task in tasks:
            report = _process_task(task)
            reports[report.path] = report
            done += 1
            if on_progress:
                on_progress(done, total)
    if cache is not None:
        linted = {task[0] for task in tasks}
        for path, key in keys.items():
            report = reports[path]
            if not report.errors and path in linted:
                cache.put(key, report.diagnostics)
        cache.save()
    return [reports[path] for path in sorted(reports)]
