#!/usr/bin/env python3
"""Time einlint against flake8, TorchFix and the bare parsers on the transformers source tree.

Standalone script, not a test: it takes minutes (tens of minutes with TorchFix) and its numbers depend on
the machine. Run it with the interpreter of the environment einlint is installed in, so that the tools
next to that interpreter are the ones measured:

    /path/to/venv/bin/python benchmarks/bench_lint_speed.py            # full run, 3 rounds
    /path/to/venv/bin/python benchmarks/bench_lint_speed.py --quick    # smoke check on the slice only

See benchmarks/README.md for what each row means.
"""

from __future__ import annotations

import argparse
import ast
import datetime as dt
import importlib.metadata
import json
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
FETCH_CORPUS = REPO_ROOT.parent / "shared" / "tools" / "fetch-corpus"
DEFAULT_RESULTS_DIR = REPO_ROOT / "benchmarks" / "results"

# TorchFix needs about 24 minutes for the whole tree, so the slow tools only see these model packages.
# They are fixed (not sampled) so that figures from different days and machines compare; together they
# are 67 files / about 25k lines in transformers 5.23.0, mostly plain attention code plus t5 and xlnet,
# which already call einsum.
SLICE_MODELS = (
    "llama",
    "bert",
    "gpt2",
    "t5",
    "vit",
    "whisper",
    "clip",
    "mistral",
    "qwen2",
    "gemma",
    "mixtral",
    "bart",
    "xlnet",
    "swin",
)

# 1 means "findings" for all three linters and TorchFix uses it for files it failed on; 2 is einlint's
# "some file could not be read/parsed". None of these make a timing invalid.
EINLINT_OK_EXIT = frozenset({0, 1, 2})
FLAKE8_OK_EXIT = frozenset({0, 1})
TORCHFIX_OK_EXIT = frozenset({0, 1})

# flake8 runs every registered plugin whatever --select says and only filters what is reported, so
# `flake8 --select E999` in an environment with einlint installed still runs einlint. This entry point
# hides third-party plugins from flake8's plugin discovery to get the cost of flake8 alone. It relies on a
# private flake8 function; if that disappears the run fails with a traceback and the row says so.
# Workers are forked so that they inherit the filtered plugin list instead of rediscovering plugins.
BUNDLED_FLAKE8_SOURCE = """
import multiprocessing
import sys

import flake8.plugins.finder as finder

BUNDLED = {"flake8", "pycodestyle", "pyflakes", "mccabe"}
multiprocessing.set_start_method("fork", force=True)
find_all = finder._find_importlib_plugins
finder._find_importlib_plugins = lambda: (p for p in find_all() if p.package in BUNDLED)

from flake8.main.cli import main

sys.exit(main(sys.argv[1:]))
"""


@dataclass(frozen=True)
class LintInput:
    """A set of Python files, and the path arguments that make every tool see exactly those files."""

    name: str
    path_args: tuple[str, ...]
    files: tuple[Path, ...]
    lines: int


@dataclass(frozen=True)
class Job:
    """One timed thing: an external command, or an in-process parse loop when `in_process` is set."""

    label: str
    lint_input: LintInput
    command: tuple[str, ...] = ()
    ok_exit_codes: frozenset[int] = frozenset({0})
    in_process: Callable[[], None] | None = None
    unavailable: str | None = None
    # Rows with the same input are compared against the reference row of that input.
    is_reference: bool = False


@dataclass(frozen=True)
class Group:
    """Jobs that must run back to back in one round and share one fresh einlint cache directory.

    The warm-cache run is only warm because the cache-fill run ran right before it into the same
    directory; every other job is a group of its own and so always starts from an empty cache.
    """

    jobs: tuple[Job, ...]


@dataclass(frozen=True)
class ChildRun:
    seconds: float
    exit_code: int
    peak_rss_mb: float | None
    stdout_lines: int
    stderr_tail: str
    crashed: bool
    timed_out: bool


@dataclass
class JobResult:
    job: Job
    seconds: list[float] = field(default_factory=list)
    peak_rss_mb: list[float] = field(default_factory=list)
    output_lines: int | None = None
    failure: str | None = None

    @property
    def status(self) -> str | None:
        return self.job.unavailable or self.failure

    @property
    def best_s(self) -> float | None:
        return min(self.seconds) if self.seconds else None

    @property
    def median_s(self) -> float | None:
        return statistics.median(self.seconds) if self.seconds else None

    @property
    def peak_rss(self) -> float | None:
        return max(self.peak_rss_mb) if self.peak_rss_mb else None


# ---------------------------------------------------------------------------------------------------------
# Corpus


def count_lines(source: bytes) -> int:
    """Lines as `wc -l` counts them, plus a last line without a newline."""
    return source.count(b"\n") + (1 if source and not source.endswith(b"\n") else 0)


def resolve_tree(corpus_arg: str | None) -> Path:
    """The transformers package directory inside the corpus, fetching the corpus if needed."""
    if corpus_arg is None:
        if not FETCH_CORPUS.is_file():
            sys.exit(f"error: {FETCH_CORPUS} not found; pass --corpus DIR")
        completed = subprocess.run([str(FETCH_CORPUS)], check=True, stdout=subprocess.PIPE, text=True, cwd=REPO_ROOT)
        corpus = Path(completed.stdout.strip().splitlines()[-1])
    else:
        corpus = Path(corpus_arg).expanduser()
    for candidate in (corpus / "transformers" / "transformers", corpus):
        if (candidate / "models").is_dir() and (candidate / "__init__.py").is_file():
            return candidate.resolve()
    sys.exit(f"error: no transformers sources under {corpus} (expected {corpus}/transformers/transformers)")


def corpus_version(tree: Path) -> str | None:
    dist_infos = sorted(tree.parent.glob("transformers-*.dist-info"))
    return dist_infos[0].name.removeprefix("transformers-").removesuffix(".dist-info") if dist_infos else None


def python_files(roots: Sequence[Path]) -> tuple[Path, ...]:
    # Sorted so that the in-process parse loops visit files in the same order on every run.
    return tuple(sorted({path for root in roots for path in root.rglob("*.py") if path.is_file()}))


def make_input(name: str, roots: Sequence[Path]) -> LintInput:
    files = python_files(roots)
    # Reading everything once here also warms the page cache, so round 1 is not the only cold-disk round.
    lines = sum(count_lines(path.read_bytes()) for path in files)
    return LintInput(name=name, path_args=tuple(str(root) for root in roots), files=files, lines=lines)


def make_slice(tree: Path) -> LintInput:
    missing = [model for model in SLICE_MODELS if not (tree / "models" / model).is_dir()]
    if missing:
        sys.exit(f"error: slice models missing from {tree}/models: {', '.join(missing)}")
    return make_input("slice", [tree / "models" / model for model in SLICE_MODELS])


# ---------------------------------------------------------------------------------------------------------
# Tools


def find_executable(name: str, override: str | None = None) -> Path | None:
    """The tool from the running interpreter's environment first, so a venv is measured even if not active."""
    if override:
        path = Path(override).expanduser()
        return path if path.is_file() and os.access(path, os.X_OK) else None
    beside_python = Path(sys.executable).parent / name
    if beside_python.is_file() and os.access(beside_python, os.X_OK):
        return beside_python
    found = shutil.which(name)
    return Path(found) if found else None


def probe_version(executable: Path | None, timeout_s: float = 60) -> tuple[str | None, str | None]:
    """(version text, None) or (None, why `--version` failed); a tool that cannot say its version is broken."""
    if executable is None:
        return None, "not installed"
    try:
        completed = subprocess.run([str(executable), "--version"], capture_output=True, text=True, timeout=timeout_s)
    except (OSError, subprocess.TimeoutExpired) as error:
        return None, f"broken ({type(error).__name__})"
    if completed.returncode != 0:
        last_line = (completed.stderr.strip().splitlines() or ["no output"])[-1]
        return None, f"broken (--version exit {completed.returncode}: {last_line[:200]})"
    return " ".join((completed.stdout or completed.stderr).split()), None


def tool_version(executable: Path | None) -> str | None:
    return probe_version(executable)[0]


def script_interpreter(script: Path | None) -> Path | None:
    """The Python a console script runs under, from its shebang line."""
    if script is None:
        return None
    try:
        with script.open("rb") as handle:
            first_line = handle.readline().decode(errors="replace").strip()
    except OSError:
        return None
    if first_line.startswith("#!"):
        interpreter = Path(first_line[2:].split()[0]) if first_line[2:].split() else None
        if interpreter is not None and interpreter.name.startswith("python") and interpreter.is_file():
            return interpreter
    beside = script.parent / "python"
    return beside if beside.is_file() else None


def flake8_has_plugin(flake8_version: str | None, distribution: str) -> bool:
    # `flake8 --version` lists every registered plugin distribution; an unregistered code prefix in
    # --select is silently accepted, which would time plain flake8 under the plugin's name.
    return flake8_version is not None and f"{distribution.lower()}:" in flake8_version.lower()


@dataclass(frozen=True)
class Toolset:
    einlint: Path | None
    flake8: Path | None
    flake8_version: str | None
    flake8_problem: str | None
    torchfix: Path | None
    flake8_for_torchfix: Path | None
    flake8_for_torchfix_version: str | None
    flake8_for_torchfix_problem: str | None

    @classmethod
    def discover(cls, args: argparse.Namespace) -> Toolset:
        flake8 = find_executable("flake8", args.flake8_bin)
        # flake8 imports every registered plugin at start-up, so one broken plugin breaks every flake8 row.
        flake8_version, flake8_problem = probe_version(flake8)
        torchfix = find_executable("torchfix", args.torchfix_bin)
        # TorchFix pins an older libcst than einlint, so it often lives in its own venv; the flake8 of that
        # venv is the one with the TOR plugin.
        flake8_for_torchfix = flake8
        flake8_for_torchfix_version, flake8_for_torchfix_problem = flake8_version, flake8_problem
        if torchfix is not None:
            sibling = torchfix.parent / "flake8"
            if sibling != flake8 and sibling.is_file() and os.access(sibling, os.X_OK):
                sibling_version, sibling_problem = probe_version(sibling)
                if flake8_has_plugin(sibling_version, "torchfix"):
                    flake8_for_torchfix = sibling
                    flake8_for_torchfix_version, flake8_for_torchfix_problem = sibling_version, sibling_problem
        return cls(
            einlint=find_executable("einlint", args.einlint_bin),
            flake8=flake8,
            flake8_version=flake8_version,
            flake8_problem=flake8_problem,
            torchfix=torchfix,
            flake8_for_torchfix=flake8_for_torchfix,
            flake8_for_torchfix_version=flake8_for_torchfix_version,
            flake8_for_torchfix_problem=flake8_for_torchfix_problem,
        )


def external_job(
    label: str,
    lint_input: LintInput,
    executable: Path | None,
    args: Sequence[str],
    ok_exit_codes: frozenset[int],
    *,
    unavailable: str | None = None,
    is_reference: bool = False,
) -> Job:
    if executable is None:
        unavailable = unavailable or "not installed"
    command = (str(executable), *args, *lint_input.path_args) if executable else ()
    return Job(
        label=label,
        lint_input=lint_input,
        command=command,
        ok_exit_codes=ok_exit_codes,
        unavailable=unavailable,
        is_reference=is_reference,
    )


def einlint_jobs(tools: Toolset, lint_input: LintInput, *, with_cache_and_serial: bool) -> list[Group]:
    def job(label: str, args: Sequence[str], is_reference: bool = False) -> Job:
        return external_job(label, lint_input, tools.einlint, args, EINLINT_OK_EXIT, is_reference=is_reference)

    groups = [Group((job("einlint --no-cache", ["--no-cache"], is_reference=True),))]
    if with_cache_and_serial:
        groups.append(Group((job("einlint (cache fill)", []), job("einlint (warm cache)", []))))
        groups.append(Group((job("einlint -j1 --no-cache", ["-j1", "--no-cache"]),)))
    return groups


def flake8_jobs(tools: Toolset, lint_input: LintInput) -> list[Group]:
    no_plugin = tools.flake8_problem
    if no_plugin is None and not flake8_has_plugin(tools.flake8_version, "einlint"):
        no_plugin = "not installed (no einlint flake8 plugin registered)"
    # --isolated: a setup.cfg/tox.ini in the working directory must not change what is checked.
    bundled_python = script_interpreter(tools.flake8)
    no_bundled = tools.flake8_problem
    if no_bundled is None and bundled_python is None:
        no_bundled = f"cannot tell which Python runs {tools.flake8}"
    return [
        Group((external_job("flake8 --select EIN", lint_input, tools.flake8, ["--isolated", "--select", "EIN"], FLAKE8_OK_EXIT, unavailable=no_plugin),)),
        Group(
            (
                external_job(
                    "flake8 --select E999", lint_input, tools.flake8, ["--isolated", "--select", "E999"], FLAKE8_OK_EXIT, unavailable=tools.flake8_problem
                ),
            )
        ),
        Group(
            (
                external_job(
                    "flake8 --select E999, bundled checkers only",
                    lint_input,
                    bundled_python,
                    ["-c", BUNDLED_FLAKE8_SOURCE, "--isolated", "--select", "E999"],
                    FLAKE8_OK_EXIT,
                    unavailable=no_bundled,
                ),
            )
        ),
    ]


def torchfix_jobs(tools: Toolset, lint_input: LintInput) -> list[Group]:
    no_plugin = tools.flake8_for_torchfix_problem
    if no_plugin is None and not flake8_has_plugin(tools.flake8_for_torchfix_version, "torchfix"):
        no_plugin = "not installed (no TorchFix flake8 plugin registered)"
    return [
        Group((external_job("torchfix", lint_input, tools.torchfix, [], TORCHFIX_OK_EXIT),)),
        Group(
            (
                external_job(
                    "flake8 --select TOR", lint_input, tools.flake8_for_torchfix, ["--isolated", "--select", "TOR"], FLAKE8_OK_EXIT, unavailable=no_plugin
                ),
            )
        ),
    ]


# ---------------------------------------------------------------------------------------------------------
# Parse floors: what no linter built on these parsers can beat, single process.


def read_sources(files: Sequence[Path]) -> list[tuple[str, bytes]]:
    return [(str(path), path.read_bytes()) for path in files]


def ast_floor_job(lint_input: LintInput) -> Job:
    # Read up front so that only parsing is timed, as the linters' own file reading is not a parse cost.
    sources = read_sources(lint_input.files)

    def parse_all() -> None:
        for filename, source in sources:
            try:
                ast.parse(source, filename=filename)
            except (SyntaxError, ValueError):
                pass

    return Job(label="ast.parse (in-process)", lint_input=lint_input, in_process=parse_all)


def libcst_floor_job(lint_input: LintInput) -> Job:
    try:
        import libcst
    except ImportError:
        return Job(label="libcst.parse_module (in-process)", lint_input=lint_input, unavailable=f"not installed (libcst not importable by {sys.executable})")
    sources = read_sources(lint_input.files)

    def parse_all() -> None:
        for _, source in sources:
            try:
                libcst.parse_module(source)
            except libcst.ParserSyntaxError:
                pass

    try:
        label = f"libcst.parse_module {importlib.metadata.version('libcst')} (in-process)"
    except importlib.metadata.PackageNotFoundError:
        label = "libcst.parse_module (in-process)"
    return Job(label=label, lint_input=lint_input, in_process=parse_all)


# ---------------------------------------------------------------------------------------------------------
# Running


# Linux carries a process's peak RSS across fork and exec, so a tool started straight from this script
# would report at least this script's own RSS (which holds the whole corpus for the parse floors). This
# small launcher is started instead and forks the tool itself; the tool's ru_maxrss from the launcher's
# wait4 then covers only the tool's own process tree, with the launcher's few MB as the floor.
LAUNCHER_SOURCE = """
import os
import sys
import time

report_path, argv = sys.argv[1], sys.argv[2:]
start = time.perf_counter()
pid = os.fork()
if pid == 0:
    try:
        os.execvp(argv[0], argv)
    except OSError as error:
        print(f"cannot run {argv[0]}: {error}", file=sys.stderr)
    os._exit(127)
_, status, usage = os.wait4(pid, 0)
seconds = time.perf_counter() - start
with open(report_path, "w") as report:
    report.write(f"{os.waitstatus_to_exitcode(status)} {usage.ru_maxrss} {seconds!r}")
"""


def run_child(command: Sequence[str], env: dict[str, str], cwd: Path, timeout_s: float) -> ChildRun:
    """Run one command and return its wall time and the peak RSS of its own process tree.

    os.wait4 gives the rusage of exactly one child (including the workers it reaped), unlike
    RUSAGE_CHILDREN, which accumulates over every child this script ever waited for.
    """
    with (
        tempfile.TemporaryFile() as stdout,
        tempfile.TemporaryFile() as stderr,
        tempfile.TemporaryDirectory(prefix="einlint-bench-run-") as run_dir,
    ):
        report_path = Path(run_dir) / "report"
        timed_out = threading.Event()
        # A session of its own so a timeout also kills flake8's/TorchFix's worker processes. Output goes to
        # files, not pipes: nobody reads a pipe while this thread blocks in wait4. -I -S keeps the
        # launcher's own footprint (the floor of every RSS figure) small.
        proc = subprocess.Popen(
            [sys.executable, "-I", "-S", "-c", LAUNCHER_SOURCE, str(report_path), *command],
            stdin=subprocess.DEVNULL,
            stdout=stdout,
            stderr=stderr,
            env=env,
            cwd=cwd,
            start_new_session=True,
        )

        def kill_group() -> None:
            timed_out.set()
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

        timer = threading.Timer(timeout_s, kill_group)
        timer.start()
        try:
            _, launcher_status, _ = os.wait4(proc.pid, 0)
        except BaseException:
            kill_group()
            proc.wait()
            raise
        finally:
            timer.cancel()
        # Popen must not try to reap the pid again; it is already gone.
        proc.returncode = os.waitstatus_to_exitcode(launcher_status)
        try:
            exit_text, maxrss_text, seconds_text = report_path.read_text().split()
            exit_code, maxrss, seconds = int(exit_text), int(maxrss_text), float(seconds_text)
        except (OSError, ValueError):
            # Killed by the timeout (or the launcher itself failed): no figures to report.
            exit_code, maxrss, seconds = proc.returncode or -1, 0, float("nan")

        stdout.seek(0)
        stdout_lines = sum(1 for _ in stdout)
        stderr.seek(0)
        stderr_text = stderr.read().decode(errors="replace")

    # An uncaught exception exits with 1, the same code as "findings", so the traceback is the only tell.
    crashed = exit_code == 1 and "Traceback (most recent call last)" in stderr_text

    # ru_maxrss is KiB on Linux and bytes on macOS.
    rss_unit = 1 if sys.platform == "darwin" else 1024
    peak_rss_mb = maxrss * rss_unit / 2**20 if maxrss else None
    return ChildRun(seconds, exit_code, peak_rss_mb, stdout_lines, stderr_text[-2000:], crashed, timed_out.is_set())


def run_job(job: Job, result: JobResult, cache_dir: Path, work_dir: Path, timeout_s: float) -> str:
    if job.in_process is not None:
        start = time.perf_counter()
        job.in_process()
        seconds = time.perf_counter() - start
        result.seconds.append(seconds)
        return f"{seconds:8.2f} s"

    env = dict(os.environ)
    # Every einlint run gets a private cache so that no run reads or pollutes the user's cache.
    env["EINLINT_CACHE_DIR"] = str(cache_dir)
    child = run_child(job.command, env, work_dir, timeout_s)
    if child.timed_out:
        result.failure = f"timeout after {timeout_s:g} s"
        return result.failure
    if child.crashed or child.exit_code not in job.ok_exit_codes:
        result.failure = f"failed (exit {child.exit_code}{', traceback' if child.crashed else ''})"
        last_line = child.stderr_tail.strip().splitlines()[-1:] or [""]
        return f"{result.failure}: {last_line[0]}"
    result.seconds.append(child.seconds)
    if child.peak_rss_mb is not None:
        result.peak_rss_mb.append(child.peak_rss_mb)
    result.output_lines = child.stdout_lines
    rss = f"{child.peak_rss_mb:7.0f} MB" if child.peak_rss_mb is not None else ""
    return f"{child.seconds:8.2f} s {rss}  exit {child.exit_code}  {child.stdout_lines} output lines"


def run_rounds(groups: Sequence[Group], rounds: int, timeout_s: float) -> dict[Job, JobResult]:
    results = {job: JobResult(job) for group in groups for job in group.jobs}
    runnable = [group for group in groups if any(job.unavailable is None for job in group.jobs)]
    with tempfile.TemporaryDirectory(prefix="einlint-bench-") as tmp:
        work_dir = Path(tmp) / "cwd"
        work_dir.mkdir()
        for round_index in range(rounds):
            # Rotating the start point means no tool always runs right after the same neighbour (thermal
            # state, page cache, CPU frequency), while every round still runs each tool once.
            offset = round_index % len(runnable) if runnable else 0
            for group in [*runnable[offset:], *runnable[:offset]]:
                cache_dir = Path(tempfile.mkdtemp(prefix="cache-", dir=tmp))
                for job in group.jobs:
                    result = results[job]
                    if result.status is not None:
                        continue
                    inp = job.lint_input
                    print(f"round {round_index + 1}/{rounds}  {job.label:<46} [{inp.name}]", end="  ", file=sys.stderr, flush=True)
                    print(run_job(job, result, cache_dir, work_dir, timeout_s), file=sys.stderr, flush=True)
                shutil.rmtree(cache_dir, ignore_errors=True)
    return results


# ---------------------------------------------------------------------------------------------------------
# Reporting


@dataclass(frozen=True)
class Row:
    tool: str
    input_name: str
    files: int
    lines: int
    best_s: float | None
    median_s: float | None
    peak_rss_mb: float | None
    ratio: float | None
    status: str | None
    round_s: tuple[float, ...] = ()
    output_lines: int | None = None

    @property
    def lines_per_s(self) -> float | None:
        return self.lines / self.best_s if self.best_s else None


def build_rows(results: dict[Job, JobResult], tree: LintInput | None) -> list[Row]:
    reference_best = {job.lint_input.name: result.best_s for job, result in results.items() if job.is_reference}
    rows = []
    for job, result in results.items():
        reference = reference_best.get(job.lint_input.name)
        best = result.best_s
        rows.append(
            Row(
                tool=job.label,
                input_name=job.lint_input.name,
                files=len(job.lint_input.files),
                lines=job.lint_input.lines,
                best_s=best,
                median_s=result.median_s,
                peak_rss_mb=result.peak_rss,
                ratio=best / reference if best and reference else None,
                status=result.status,
                round_s=tuple(result.seconds),
                output_lines=result.output_lines,
            )
        )
        # libcst is too slow to run over the whole tree every round; its speed is linear enough in lines
        # to scale the slice figure up to the tree.
        if job.label.startswith("libcst") and tree is not None and best and job.lint_input.name != tree.name:
            scale = tree.lines / job.lint_input.lines
            tree_reference = reference_best.get(tree.name)
            rows.append(
                Row(
                    tool=job.label.replace("(in-process)", "(extrapolated)"),
                    input_name=f"{tree.name} (est.)",
                    files=len(tree.files),
                    lines=tree.lines,
                    best_s=best * scale,
                    median_s=result.median_s * scale if result.median_s else None,
                    peak_rss_mb=None,
                    ratio=best * scale / tree_reference if tree_reference else None,
                    status=None,
                )
            )
    return rows


def markdown_table(rows: Sequence[Row]) -> str:
    def num(value: float | None, fmt: str) -> str:
        return format(value, fmt) if value is not None else "—"

    header = "| tool | input | files | lines | best s | median s | lines/s | peak RSS MB | ratio vs einlint |\n|---|---|---:|---:|---:|---:|---:|---:|---:|"
    body = []
    for row in rows:
        if row.status is not None:
            body.append(f"| {row.tool} | {row.input_name} | {row.files} | {row.lines} | {row.status} | — | — | — | — |")
            continue
        body.append(
            f"| {row.tool} | {row.input_name} | {row.files} | {row.lines} | {num(row.best_s, '.2f')} "
            f"| {num(row.median_s, '.2f')} | {num(row.lines_per_s, ',.0f')} | {num(row.peak_rss_mb, '.0f')} "
            f"| {num(row.ratio, '.2f')}{'×' if row.ratio is not None else ''} |"
        )
    return "\n".join([header, *body])


def markdown_report(rows: Sequence[Row], meta: dict[str, object]) -> str:
    lines = [
        "# einlint lint speed",
        "",
        f"- date: {meta['date']}",
        f"- machine: {meta['machine']}, {meta['cpus']} CPUs usable",
        f"- python: {meta['python']}",
        f"- corpus: transformers {meta['corpus_version']} at `{meta['tree']}`",
        f"- slice: `models/{{{','.join(SLICE_MODELS)}}}`",
        f"- rounds: {meta['rounds']} (tools alternate within each round; best and median over rounds)",
        "",
        markdown_table(rows),
        "",
        "Peak RSS is the largest single process of the tool's process tree (ru_maxrss from wait4), not the",
        "sum over its workers. flake8 runs every installed plugin whatever `--select` says and only filters",
        "the report, so `flake8 --select E999` includes einlint's plugin when it is installed; the",
        '"bundled checkers only" row hides third-party plugins and is the cost of flake8 alone (pyflakes',
        "and pycodestyle), which the EIN and TOR rows pay on top of.",
        "The ratio divides by `einlint --no-cache` on the same input.",
        "",
    ]
    return "\n".join(lines)


def row_json(row: Row) -> dict[str, object]:
    return {
        "tool": row.tool,
        "input": row.input_name,
        "files": row.files,
        "lines": row.lines,
        "best_s": row.best_s,
        "median_s": row.median_s,
        "lines_per_s": row.lines_per_s,
        "peak_rss_mb": row.peak_rss_mb,
        "ratio_vs_einlint": row.ratio,
        "status": row.status,
        "round_s": list(row.round_s),
        "output_lines": row.output_lines,
    }


def git_commit() -> str | None:
    try:
        completed = subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO_ROOT, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return completed.stdout.strip() if completed.returncode == 0 else None


# ---------------------------------------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", metavar="DIR", help="corpus directory as printed by ../shared/tools/fetch-corpus (default: run it)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds; best and median are over these")
    parser.add_argument("--timeout", type=float, default=1800, metavar="S", help="limit per external command")
    parser.add_argument("--quick", action="store_true", help="one round, only einlint and flake8 on the slice (a smoke check)")
    parser.add_argument("--out-md", type=Path, default=DEFAULT_RESULTS_DIR / "lint_speed.md")
    parser.add_argument("--out-json", type=Path, default=DEFAULT_RESULTS_DIR / "lint_speed.json")
    parser.add_argument("--einlint-bin", metavar="PATH", help="einlint executable (default: beside python, PATH)")
    parser.add_argument("--flake8-bin", metavar="PATH", help="flake8 executable (default: beside python, PATH)")
    parser.add_argument(
        "--torchfix-bin",
        metavar="PATH",
        help="torchfix executable; the flake8 beside it is used for --select TOR if it has the TorchFix plugin (default: beside python, PATH)",
    )
    args = parser.parse_args(argv)
    if args.quick:
        args.rounds = 1
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    tree_dir = resolve_tree(args.corpus)
    tools = Toolset.discover(args)

    slice_input = make_slice(tree_dir)
    print(f"slice: {len(slice_input.files)} files, {slice_input.lines} lines (models/{{{','.join(SLICE_MODELS)}}})", file=sys.stderr)
    tree_input: LintInput | None = None
    groups: list[Group] = []
    if args.quick:
        groups += einlint_jobs(tools, slice_input, with_cache_and_serial=False)
        groups += flake8_jobs(tools, slice_input)
    else:
        tree_input = make_input("tree", [tree_dir])
        print(f"tree:  {len(tree_input.files)} files, {tree_input.lines} lines ({tree_dir})", file=sys.stderr)
        groups += einlint_jobs(tools, tree_input, with_cache_and_serial=True)
        groups += flake8_jobs(tools, tree_input)
        groups.append(Group((ast_floor_job(tree_input),)))
        groups += einlint_jobs(tools, slice_input, with_cache_and_serial=False)
        groups += flake8_jobs(tools, slice_input)
        groups += torchfix_jobs(tools, slice_input)
        groups.append(Group((libcst_floor_job(slice_input),)))

    results = run_rounds(groups, args.rounds, args.timeout)
    rows = build_rows(results, tree_input)

    meta: dict[str, object] = {
        "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "machine": f"{platform.system()} {platform.machine()} {platform.node()}",
        "cpus": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "python": f"{platform.python_version()} ({sys.executable})",
        "corpus_version": corpus_version(tree_dir),
        "tree": str(tree_dir),
        "slice_models": list(SLICE_MODELS),
        "rounds": args.rounds,
        "quick": args.quick,
        "timeout_s": args.timeout,
        "einlint_commit": git_commit(),
        "tools": {
            "einlint": {"path": str(tools.einlint) if tools.einlint else None, "version": tool_version(tools.einlint)},
            "flake8": {"path": str(tools.flake8) if tools.flake8 else None, "version": tools.flake8_version},
            "torchfix": {"path": str(tools.torchfix) if tools.torchfix else None, "version": tool_version(tools.torchfix)},
            "flake8_for_torchfix": {
                "path": str(tools.flake8_for_torchfix) if tools.flake8_for_torchfix else None,
                "version": tools.flake8_for_torchfix_version,
            },
        },
    }
    report = markdown_report(rows, meta)
    print()
    print(markdown_table(rows))

    for path in (args.out_md, args.out_json):
        path.parent.mkdir(parents=True, exist_ok=True)
    args.out_md.write_text(report)
    args.out_json.write_text(json.dumps({"meta": meta, "rows": [row_json(row) for row in rows]}, indent=2) + "\n")
    print(f"\nwrote {args.out_md} and {args.out_json}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
