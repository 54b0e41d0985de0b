"""Run einlint over many files: discover, consult the cache, lint or fix in a process pool, and return
per-file reports in a stable order."""

from __future__ import annotations

import bisect
import difflib
import os
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache, partial
from pathlib import Path
from typing import TYPE_CHECKING

from einlint.config import Configuration, Settings
from einlint.diagnostics import Diagnostic, FileError
from einlint.engine.cache import ResultCache, content_key, default_cache_dir
from einlint.engine.files import PathProblem, discover

if TYPE_CHECKING:
    from einlint.observe.observations import Observations

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
    # What ``einlint observe`` recorded; None: no observations file. Findings are judged against it.
    observations: Observations | None = None
    observed_fixes: bool = False  # --observed-fixes: --fix also applies observed fixes


@dataclass(frozen=True)
class Locator:
    """Where the engine's positions are for a reader: offsets of the decoded text as (line, column),
    and, in a notebook, the lines of the joined code cells as (cell, line in the cell)."""

    line_starts: tuple[int, ...]
    cell_first_lines: tuple[int, ...] = ()  # notebooks: the joined-source line where each code cell starts
    cell_numbers: tuple[int, ...] = ()  # notebooks: the 1-based number of each of those cells

    def position(self, offset: int) -> tuple[int, int]:
        """(1-based line, 0-based character column) of a character offset."""
        line = bisect.bisect_right(self.line_starts, offset)
        return line, offset - self.line_starts[line - 1]

    def cell_of(self, line: int) -> tuple[int | None, int]:
        """(1-based cell number or None outside a notebook, line in the cell) of a line."""
        if not self.cell_first_lines:
            return None, line
        position = max(0, bisect.bisect_right(self.cell_first_lines, line) - 1)
        return self.cell_numbers[position], line - self.cell_first_lines[position] + 1


@dataclass
class FileReport:
    path: str
    diagnostics: list[Diagnostic] = field(default_factory=list)
    errors: list[FileError] = field(default_factory=list)
    fixed: int = 0
    diff: str = ""
    profile: dict[str, float] = field(default_factory=dict)
    unsafe_fixes: bool = False  # whether this file's settings show (and apply) unsafe fixes
    observed_fixes: bool = False  # whether --fix applies this file's observed fixes
    locator: Locator | None = None  # set for notebooks, and for files whose findings carry fixes
    applied: list[Diagnostic] = field(default_factory=list)  # the findings --fix fixed
    fixed_output: bytes | None = None  # under --fix without writing back (stdin): the fixed file


@lru_cache(maxsize=64)
def _rule_set(settings: Settings):
    from einlint.engine.runner import RuleSet

    return RuleSet.for_settings(settings)


def _locator(text: str, notebook=None) -> Locator:
    from einlint.engine.source import SourceText

    starts = tuple(SourceText("", text).line_starts)
    if notebook is None:
        return Locator(starts)
    return Locator(starts, tuple(c.first_line for c in notebook.cells), tuple(c.index + 1 for c in notebook.cells))


def _read_source(path: str, data: bytes, report: FileReport):
    """The file as Python source (a notebook's code cells, joined), and the notebook if it is one."""
    from einlint.engine.notebooks import NotebookError, parse_notebook
    from einlint.engine.source import SourceError, SourceText

    if path.endswith(".ipynb"):
        try:
            notebook = parse_notebook(data)
        except NotebookError as error:
            report.errors.append(FileError(path, str(error)))
            return None, None
        return SourceText(path, notebook.python), notebook
    try:
        return SourceText.from_bytes(path, data), None
    except SourceError as error:
        report.errors.append(FileError(path, str(error)))
        return None, None


def process_file(path: str, settings: Settings, options: RunOptions, data: bytes | None = None, write_back: bool = True) -> FileReport:
    """Lint (and under --fix/--diff, fix) one file. Never raises for a problem with the file itself.
    ``write_back`` False: the fixed file goes to ``fixed_output`` instead of to disk (stdin)."""
    from einlint.engine.fixer import fix_source, write_atomically
    from einlint.engine.runner import lint_source

    unsafe_fixes = options.unsafe_fixes or settings.unsafe_fixes
    observed_fixes = options.observed_fixes or settings.observed_fixes
    report = FileReport(path, unsafe_fixes=unsafe_fixes, observed_fixes=observed_fixes)
    if data is None:
        try:
            with open(path, "rb") as handle:
                data = handle.read()
        except OSError as error:
            report.errors.append(FileError(path, f"cannot read: {error.strerror or error}"))
            return report
    source, notebook = _read_source(path, data, report)
    if source is None:
        return report
    rule_set = _rule_set(settings)
    if not (options.fix or options.diff):
        result = lint_source(source, settings, rule_set, profile=options.profile)
        report.diagnostics = result.diagnostics
        report.profile = result.profile
        if result.error:
            report.errors.append(result.error)
        _attach_locator(report, source.text, notebook)
        return report
    judge = None
    if options.observations is not None and notebook is None:
        judge = partial(_judge_text, observations=options.observations, settings=settings, path=path)
    outcome = fix_source(source, settings, rule_set, unsafe_fixes, options.fix_filter, observed_fixes, judge)
    report.diagnostics = outcome.remaining
    report.fixed = len(outcome.applied)
    report.applied = list(outcome.applied)
    if outcome.error:
        report.errors.append(outcome.error)
    _attach_locator(report, outcome.text, notebook)
    if outcome.text == source.text:
        if not write_back:
            report.fixed_output = data
        return report
    if notebook is not None:
        from einlint.engine.notebooks import NotebookError, parse_notebook, with_python

        try:
            new_data = with_python(parse_notebook(data), outcome.text)
        except NotebookError as error:
            report.errors.append(FileError(path, str(error)))
            report.fixed = 0
            return report
        old_text, new_text = data.decode("utf-8-sig"), new_data.decode("utf-8")
    else:
        new_data = source.encode(outcome.text)
        old_text, new_text = source.text, outcome.text
    if options.diff:
        report.diff = "".join(difflib.unified_diff(old_text.splitlines(keepends=True), new_text.splitlines(keepends=True), *_diff_names(path)))
    elif not write_back:
        report.fixed_output = new_data
    else:
        problem = write_atomically(path, new_data, data)
        if problem:
            report.errors.append(FileError(path, problem))
            report.fixed = 0
    return report


def _judge_text(diagnostics: list[Diagnostic], text: str, observations: Observations, settings: Settings, path: str) -> list[Diagnostic]:
    from einlint.observe.judgement import judge_file

    return judge_file(diagnostics, text, observations, settings.assume, settings, path)


def judge_reports(reports: list[FileReport], configuration: Configuration, observations: Observations, data: dict[str, bytes] | None = None) -> None:
    """Judge the findings of a lint run (not a fix run, whose rounds judge their own) against the
    observations; files are read again only where observations exist for them."""
    from einlint.engine.source import SourceError, SourceText
    from einlint.observe.judgement import judge_file

    observed_paths = observations.paths()
    for report in reports:
        observed = observations.relative(report.path) in observed_paths
        if report.path.endswith(".ipynb") or not (report.diagnostics or observed):
            continue
        settings = configuration.for_path(report.path)
        report.observed_fixes = report.observed_fixes or settings.observed_fixes
        text = ""
        if observed:
            try:
                if data is not None and report.path in data:
                    raw = data[report.path]
                else:
                    with open(report.path, "rb") as handle:
                        raw = handle.read()
                text = SourceText.from_bytes(report.path, raw).text
            except (OSError, SourceError):
                continue
        # Judging only removes fixes or changes their tier, so the locator attached at lint time stays right.
        report.diagnostics = judge_file(report.diagnostics, text, observations, settings.assume, settings, report.path)


def _attach_locator(report: FileReport, text: str, notebook) -> None:
    if notebook is not None or any(d.fix is not None for d in report.diagnostics):
        report.locator = _locator(text, notebook)


def _rules_fingerprint() -> str:
    """Every rule and the state of einlint's own files: an edited checkout or a new rule must not be
    served results computed by different code."""
    from einlint.engine import runner

    package = Path(__file__).resolve().parent.parent
    stamps = []
    for path in sorted(package.rglob("*.py")):
        try:
            status = path.stat()
        except OSError:
            continue
        stamps.append(f"{path.relative_to(package)}:{status.st_size}:{status.st_mtime_ns}")
    return "|".join(rule.code for rule in runner.available_rules()) + "|" + ",".join(stamps)


def _diff_names(path: str) -> tuple[str, str]:
    if os.path.isabs(path):
        return path, path
    return f"a/{path}", f"b/{path}"


def _process_task(task: tuple[str, Settings, RunOptions, bytes | None], write_back: bool = True) -> FileReport:
    path, settings, options, data = task
    try:
        with warnings.catch_warnings():
            # The parser warns about the code it reads (an invalid escape or decimal literal): that is the
            # file's business, not a line for einlint's stderr, and under -W error it must not fail the parse.
            warnings.simplefilter("ignore", SyntaxWarning)
            warnings.simplefilter("ignore", DeprecationWarning)
            return process_file(path, settings, options, data, write_back)
    except RecursionError:
        # Valid code can nest deeper than libcst's recursive visitors go (e.g. ~150 nested calls).
        return FileReport(path, errors=[FileError(path, "nested too deeply for einlint to analyse; not checked")])
    except Exception as error:  # noqa: BLE001 - one file's bug must not end the run
        return FileReport(path, errors=[FileError(path, f"internal error: {type(error).__name__}: {error}", internal=True)])


def run(
    paths: list[str],
    configuration: Configuration | Settings,
    options: RunOptions,
    on_progress: Callable[[int, int], None] | None = None,
) -> list[FileReport]:
    """Lint (or fix) every file under ``paths``, each with the settings of its own configuration
    (``configuration``), or all with the same ``Settings``."""
    if isinstance(configuration, Settings):
        configuration = Configuration(fixed_settings=configuration)
    reports: dict[str, FileReport] = {}
    files: list[str] = []
    for item in discover(paths, configuration):
        if isinstance(item, PathProblem):
            reports.setdefault(item.path, FileReport(item.path)).errors.append(FileError(item.path, item.reason))
        elif item not in reports:
            files.append(item)
            reports[item] = FileReport(item)
    cache = None
    if options.use_cache and not (options.fix or options.diff or options.profile):
        cache = ResultCache(options.cache_dir or default_cache_dir(), _rules_fingerprint())
    tasks = []
    keys: dict[str, str] = {}
    for path in files:
        settings = configuration.for_path(path)
        data = None
        if cache is not None:
            try:
                with open(path, "rb") as handle:
                    data = handle.read()
            except OSError as error:
                reports[path].errors.append(FileError(path, f"cannot read: {error.strerror or error}"))
                continue
            keys[path] = content_key(path, data, settings.cache_key())
            cached = cache.get(keys[path], path)
            if cached is not None:
                reports[path].diagnostics = cached
                reports[path].unsafe_fixes = options.unsafe_fixes or settings.unsafe_fixes
                reports[path].observed_fixes = options.observed_fixes or settings.observed_fixes
                if path.endswith(".ipynb") or any(d.fix is not None for d in cached):
                    source, notebook = _read_source(path, data, reports[path])
                    if source is not None:
                        _attach_locator(reports[path], source.text, notebook)
                continue
        tasks.append((path, settings, options, data))
    total, done = len(tasks), 0
    jobs = options.jobs or os.cpu_count() or 1
    if jobs > 1 and len(tasks) >= POOL_THRESHOLD:
        # Imported here: the pool's modules cost a run that checks a few files a noticeable share.
        from concurrent.futures import ProcessPoolExecutor

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
    ordered = [reports[path] for path in sorted(reports)]
    if options.observations is not None and not (options.fix or options.diff):
        judge_reports(ordered, configuration, options.observations)
    return ordered


def run_stdin(data: bytes, filename: str | None, configuration: Configuration | Settings, options: RunOptions) -> FileReport:
    """Lint (or fix) source read from stdin as if it were the file ``filename`` (its configuration,
    per-file ignores and, for ``.ipynb``, notebook handling); under --fix the fixed source goes to
    ``fixed_output``. A file that ``force-exclude`` excludes is passed through unchecked."""
    if isinstance(configuration, Settings):
        configuration = Configuration(fixed_settings=configuration)
    path = filename or "-"
    settings = configuration.for_path(path)
    if filename and settings.force_exclude:
        from einlint.engine.files import is_force_excluded

        if is_force_excluded(filename, configuration):
            return FileReport(path, fixed_output=data if options.fix else None)
    report = _process_task((path, settings, options, data), write_back=False)
    if options.observations is not None and not options.fix and filename:
        judge_reports([report], configuration, options.observations, {path: data})
    return report
