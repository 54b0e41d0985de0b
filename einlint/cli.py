"""The ``einlint`` command line."""

from __future__ import annotations

import argparse
import os
import sys
from typing import TYPE_CHECKING
from pathlib import Path

from einlint import __version__
from einlint.config import ConfigError, Configuration, Overrides, split_codes
from einlint.reporters import printable

if TYPE_CHECKING:
    from rich.progress import Progress, TaskID

EXIT_CLEAN, EXIT_FINDINGS, EXIT_ERROR = 0, 1, 2


def known_codes() -> tuple[str, ...]:
    from einlint.engine import runner

    return tuple(rule.code for rule in runner.available_rules())


# A progress bar is worth its flicker only on runs this long.
PROGRESS_MIN_FILES = 48


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="einlint",
        description="Find transpose/permute/matmul/sum chains and einsum mistakes in PyTorch code; rewrite them into equivalent torch.einsum calls.",
    )
    parser.add_argument("paths", nargs="*", default=["."], help="files or directories (default: .); - reads one file from stdin")
    parser.add_argument("--fix", action="store_true", help="apply safe fixes in place (from stdin: print the fixed source)")
    parser.add_argument("--unsafe-fixes", action="store_true", default=None, help="also show unsafe fixes; with --fix, apply them")
    parser.add_argument(
        "--observed-fixes",
        action="store_true",
        default=None,
        help="with --fix, also apply fixes whose assumptions held in every execution einlint observe recorded",
    )
    parser.add_argument(
        "--observations",
        metavar="PATH",
        help="the observations file einlint observe wrote (default: .einlint/observations.json beside the nearest pyproject.toml)",
    )
    parser.add_argument("--sort", choices=("position", "time"), default="position", help="order findings by file position, or by measured time (most first)")
    parser.add_argument("--diff", action="store_true", help="print a unified diff of what --fix would write; write nothing")
    parser.add_argument("--select", help="comma-separated codes or prefixes to enable (e.g. EIN0,EIN101); replaces the configured list")
    parser.add_argument("--extend-select", help="codes or prefixes to enable on top of the configured selection")
    parser.add_argument("--ignore", help="comma-separated codes or prefixes to disable; replaces the configured list")
    parser.add_argument("--extend-ignore", help="codes or prefixes to disable on top of the configured list")
    parser.add_argument("--format", choices=("text", "json", "sarif", "github"), default="text", help="output format (default: text)")
    parser.add_argument("--output-file", metavar="PATH", help="write the report to PATH instead of stdout")
    parser.add_argument("--exit-zero", action="store_true", help="exit 0 even when findings are left (errors still exit 2)")
    parser.add_argument("-q", "--quiet", action="store_true", help="print the findings only: no summary line")
    parser.add_argument("--statistics", action="store_true", help="print the number of findings per code")
    parser.add_argument("--show-fixes", action="store_true", help="with --fix: list every finding that was fixed")
    parser.add_argument("--show-settings", action="store_true", help="print the settings each named path gets, and exit")
    parser.add_argument("--add-noqa", action="store_true", help="append '# noqa: CODE' to every line with a finding, and exit")
    parser.add_argument("--config", metavar="FILE", help="use this TOML file ([tool.einlint] or a top-level einlint table) for every file")
    parser.add_argument("--isolated", action="store_true", help="read no configuration file")
    parser.add_argument("--force-exclude", action="store_true", default=None, help="apply exclude and .gitignore to paths named on the command line too")
    parser.add_argument("--no-respect-gitignore", dest="respect_gitignore", action="store_false", default=None, help="do not skip files .gitignore ignores")
    parser.add_argument("--stdin-filename", metavar="PATH", help="the path of the source read from stdin (for configuration and reports)")
    parser.add_argument("--list-rules", action="store_true", help="list every rule and exit")
    parser.add_argument("--explain", metavar="CODE", help="print a rule's documentation and how its fix stays sound, and exit")
    parser.add_argument("-j", "--jobs", type=int, default=0, help="worker processes (default: one per CPU)")
    parser.add_argument("--no-cache", action="store_true", help="do not read or write the result cache")
    parser.add_argument("--profile", action="store_true", help="print time spent per stage and per rule (stderr)")
    _add_verify_arguments(parser)
    parser.add_argument("--version", action="version", version=f"einlint {__version__}")
    return parser


def main(argv: list[str] | None = None) -> int:
    if argv is None:
        argv = sys.argv[1:]
    if argv[:1] == ["observe"]:
        # ``einlint observe ... -- COMMAND``; a directory named observe is linted as ``./observe``.
        from einlint.observe.run import main as observe

        return observe(argv[1:])
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:
        return EXIT_ERROR if exit_.code not in (0, None) else EXIT_CLEAN
    try:
        return _run(args)
    except ConfigError as error:
        print(f"einlint: error: {error}", file=sys.stderr)
        return EXIT_ERROR
    except BrokenPipeError:
        # The reader went away (``einlint ... | head -1``): nobody is left to tell.
        _silence_stdout()
        return EXIT_FINDINGS
    except KeyboardInterrupt:
        print("einlint: interrupted", file=sys.stderr)
        return 130


def _silence_stdout() -> None:
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass


def _configuration(args: argparse.Namespace) -> Configuration:
    overrides = Overrides(
        select=split_codes(args.select, known_codes(), "--select: ") if args.select is not None else None,
        extend_select=split_codes(args.extend_select, known_codes(), "--extend-select: ") if args.extend_select else (),
        ignore=split_codes(args.ignore, known_codes(), "--ignore: ") if args.ignore is not None else None,
        extend_ignore=split_codes(args.extend_ignore, known_codes(), "--extend-ignore: ") if args.extend_ignore else (),
        unsafe_fixes=args.unsafe_fixes,
        observed_fixes=args.observed_fixes,
        force_exclude=args.force_exclude,
        respect_gitignore=args.respect_gitignore,
    )
    if args.config and args.isolated:
        raise ConfigError("--config and --isolated exclude each other")
    return Configuration(overrides, Path(args.config) if args.config else None, args.isolated)


def _run(args: argparse.Namespace) -> int:
    if args.list_rules:
        return _list_rules()
    if args.explain:
        return _explain(args.explain)
    if args.jobs < 0:
        raise ConfigError("--jobs must be 0 (one per CPU) or more")
    configuration = _configuration(args)
    reading_stdin = args.paths == ["-"]
    if "-" in args.paths and not reading_stdin:
        raise ConfigError("- (stdin) cannot be mixed with other paths")
    if args.stdin_filename and not reading_stdin:
        raise ConfigError("--stdin-filename applies to reading stdin (the path -)")
    if args.show_settings:
        return _show_settings(args, configuration)
    if args.verify or args.verify_report or args.only_faster:
        return _verify(args, configuration)
    if args.device:
        raise ConfigError("--device applies to --verify")
    from einlint.engine.driver import RunOptions, run, run_stdin

    options = RunOptions(
        fix=args.fix and not args.diff,
        diff=args.diff,
        unsafe_fixes=bool(args.unsafe_fixes),
        jobs=args.jobs,
        use_cache=not args.no_cache,
        profile=args.profile,
        observations=_observations(args),
        observed_fixes=bool(args.observed_fixes),
    )
    if args.add_noqa:
        if args.fix or args.diff or reading_stdin:
            raise ConfigError("--add-noqa works on files, without --fix or --diff")
        from einlint.engine.noqa import add_noqa_directives

        options = RunOptions(jobs=args.jobs, use_cache=not args.no_cache)
        reports = run(args.paths, configuration, options)
        return _report_add_noqa(reports, add_noqa_directives(reports))
    if reading_stdin:
        data = sys.stdin.buffer.read()
        report = run_stdin(data, args.stdin_filename, configuration, options)
        return _report([report], args, stdin_source=data)
    progress = _Progress() if sys.stderr.isatty() else None
    try:
        reports = run(args.paths, configuration, options, on_progress=progress.update if progress else None)
    finally:
        if progress:
            progress.close()
    return _report(reports, args)


def _observations(args: argparse.Namespace):
    """What ``einlint observe`` recorded, or None. A damaged default file is a warning (linting goes
    on without it); a file named with --observations must exist and be readable."""
    from einlint.observe.observations import ObservationsError, default_path, read

    path = Path(args.observations) if args.observations else default_path()
    if args.observations and not path.is_file():
        raise ConfigError(f"--observations: no such file: {args.observations}")
    if not path.is_file():
        return None
    try:
        return read(path)
    except ObservationsError as error:
        if args.observations:
            raise ConfigError(str(error)) from None
        print(f"einlint: warning: {printable(str(error))}; observations not used", file=sys.stderr)
        return None


def _show_settings(args: argparse.Namespace, configuration: Configuration) -> int:
    targets = [args.stdin_filename or "-"] if args.paths == ["-"] else args.paths
    for path in targets:
        print(f"# {path}")
        print(configuration.for_path(path).describe())
    return EXIT_CLEAN


def _report_add_noqa(reports, outcome) -> int:
    errors = [e for report in reports for e in report.errors] + list(outcome.errors)
    for error in errors:
        print(f"{error.path}: error: {error.reason}", file=sys.stderr)
    count = outcome.added
    print(f"Added {count} noqa directive{'s' if count != 1 else ''}.")
    return EXIT_ERROR if errors else EXIT_CLEAN


def _add_verify_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--verify",
        action="store_true",
        help="run the original and the rewritten expression of every fix (unsafe ones included) on synthetic tensors; "
        "print equivalence, max error and speedup per fix; exit 1 if a fix is not equivalent; with --fix or --diff, "
        "apply only fixes verified equivalent (needs torch: einlint[verify])",
    )
    parser.add_argument("--verify-report", metavar="PATH", help="with --verify: also write a Markdown report (and a PNG chart with matplotlib)")
    parser.add_argument("--device", choices=("cpu", "cuda"), help="where --verify runs (default: cuda when available)")
    parser.add_argument("--only-faster", action="store_true", help="with --fix --verify: also skip fixes measured slower on this machine")


def _verify(args: argparse.Namespace, configuration: Configuration) -> int:
    """--verify lives in einlint.verify, the one package that imports torch. Each file is linted,
    verified and fixed with its own settings, as plain linting does."""
    from einlint.verify.command import run_verify

    return run_verify(args, configuration)


def _report(reports, args: argparse.Namespace, stdin_source: bytes | None = None) -> int:
    from einlint.reporters import build_input, render
    from einlint.reporters.text import statistics, summary
    from einlint.rules import all_rules

    by_time = args.sort == "time"
    report_input = build_input(reports)
    findings = report_input.findings
    errors = report_input.errors
    fixed = sum(report.fixed for report in reports)
    for error in errors:
        print(f"{printable(error.path)}: error: {printable(error.reason)}", file=sys.stderr)
    chunks: list[str] = []  # the report proper: stdout, or --output-file
    notes: list[str] = []  # what goes to stderr
    fixed_source = stdin_source is not None and args.fix and not args.diff
    if fixed_source:
        # stdin under --fix: stdout is the fixed source; findings left go to stderr.
        output = reports[0].fixed_output if reports and reports[0].fixed_output is not None else stdin_source
        _write_bytes(output or b"")
        notes.append(render(args.format, reports, by_time))
    elif args.diff:
        chunks.append("".join(report.diff for report in reports))
    else:
        chunks.append(render(args.format, reports, by_time))
    if args.show_fixes and args.fix:
        for report in reports:
            for diagnostic in report.applied:
                notes.append(f"fixed: {printable(diagnostic.path)}:{diagnostic.line}:{diagnostic.col + 1}: {diagnostic.code} {printable(diagnostic.message)}\n")
    if args.statistics:
        table = statistics([view.diagnostic for view in findings], {r.code: r.name for r in all_rules()})
        (notes if args.format != "text" or args.diff or fixed_source else chunks).append(table)
    if args.format == "text" and not args.quiet:
        checked = sum(1 for report in reports if not report.errors)
        line = summary(findings, fixed, dry_run=args.diff, errors=len({e.path for e in errors}), checked=checked) + "\n"
        (notes if args.diff or fixed_source else chunks).append(line)
    _emit("".join(chunks), args.output_file)
    if notes:
        sys.stderr.write("".join(notes))
    if args.profile:
        _print_profile(reports)
    if errors:
        return EXIT_ERROR
    if args.exit_zero:
        return EXIT_CLEAN
    if args.diff and any(report.diff for report in reports):
        return EXIT_FINDINGS
    return EXIT_FINDINGS if findings else EXIT_CLEAN


def _emit(text: str, output_file: str | None) -> None:
    if output_file:
        try:
            with open(output_file, "w", encoding="utf-8") as handle:
                handle.write(text)
        except OSError as error:
            raise ConfigError(f"cannot write {output_file}: {error.strerror or error}") from None
        return
    sys.stdout.write(text)
    sys.stdout.flush()


def _write_bytes(data: bytes) -> None:
    sys.stdout.flush()
    sys.stdout.buffer.write(data)
    sys.stdout.buffer.flush()


def _print_profile(reports) -> None:
    totals: dict[str, float] = {}
    for report in reports:
        for key, seconds in report.profile.items():
            totals[key] = totals.get(key, 0.0) + seconds
    print("einlint profile (CPU seconds summed over workers):", file=sys.stderr)
    for key, seconds in sorted(totals.items(), key=lambda item: -item[1]):
        print(f"  {key:<12} {seconds:8.3f}", file=sys.stderr)


def _list_rules() -> int:
    from einlint.rules import all_rules

    for rule in all_rules():
        default = "" if rule.enabled_by_default else "  (off by default)"
        if rule.observed_only:
            default += "  (from observations only)"
        print(f"{rule.code}  {rule.name:<28} {rule.summary()}{default}")
    return EXIT_CLEAN


def _explain(code: str) -> int:
    from einlint.rules import rule_by_code

    rule = rule_by_code(code)
    if rule is None:
        print(f"einlint: error: no rule {code!r} (see einlint --list-rules)", file=sys.stderr)
        return EXIT_ERROR
    from einlint.explanation import explanation

    print(explanation(rule))
    return EXIT_CLEAN


class _Progress:
    """A rich progress bar on stderr, started only once a run turns out to be long."""

    def __init__(self) -> None:
        self._bar: Progress | None = None
        self._task: TaskID | None = None

    def update(self, done: int, total: int) -> None:
        if self._bar is None:
            if total < PROGRESS_MIN_FILES:
                return
            from rich.progress import Progress

            self._bar = Progress(transient=True, console=None)
            self._bar.console.file = sys.stderr
            self._bar.start()
            self._task = self._bar.add_task("linting", total=total)
        if self._task is not None:
            self._bar.update(self._task, completed=done)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.stop()
