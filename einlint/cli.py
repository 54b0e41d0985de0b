"""The ``einlint`` command line."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from einlint import __version__
from einlint.config import ConfigError, load_settings, split_codes, with_overrides

EXIT_CLEAN, EXIT_FINDINGS, EXIT_ERROR = 0, 1, 2
# A progress bar is worth its flicker only on runs this long.
PROGRESS_MIN_FILES = 48


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="einlint",
        description="Find transpose/permute/matmul/sum chains and einsum mistakes in PyTorch code; rewrite them into equivalent torch.einsum calls.",
    )
    parser.add_argument("paths", nargs="*", default=["."], help="files or directories (default: .)")
    parser.add_argument("--fix", action="store_true", help="apply safe fixes in place")
    parser.add_argument("--unsafe-fixes", action="store_true", default=None, help="also show unsafe fixes; with --fix, apply them")
    parser.add_argument("--diff", action="store_true", help="print a unified diff of what --fix would write; write nothing")
    parser.add_argument("--select", help="comma-separated codes or prefixes to enable (e.g. EIN0,EIN101)")
    parser.add_argument("--ignore", help="comma-separated codes or prefixes to disable")
    parser.add_argument("--format", choices=("text", "json", "sarif", "github"), default="text", help="output format (default: text)")
    parser.add_argument("--statistics", action="store_true", help="print the number of findings per code")
    parser.add_argument("--list-rules", action="store_true", help="list every rule and exit")
    parser.add_argument("--explain", metavar="CODE", help="print a rule's documentation and exit")
    parser.add_argument("-j", "--jobs", type=int, default=0, help="worker processes (default: one per CPU)")
    parser.add_argument("--no-cache", action="store_true", help="do not read or write the result cache")
    parser.add_argument("--profile", action="store_true", help="print time spent per stage and per rule (stderr)")
    _add_verify_arguments(parser)
    parser.add_argument("--version", action="version", version=f"einlint {__version__}")
    return parser


def main(argv: list[str] | None = None) -> int:
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
    except KeyboardInterrupt:
        print("einlint: interrupted", file=sys.stderr)
        return 130


def _run(args: argparse.Namespace) -> int:
    if args.list_rules:
        return _list_rules()
    if args.explain:
        return _explain(args.explain)
    if args.jobs < 0:
        raise ConfigError("--jobs must be 0 (one per CPU) or more")
    start = Path(args.paths[0]) if args.paths and os.path.exists(args.paths[0]) else Path.cwd()
    settings = load_settings(start.absolute())
    settings = with_overrides(
        settings,
        select=split_codes(args.select) if args.select is not None else None,
        ignore=split_codes(args.ignore) if args.ignore is not None else None,
        unsafe_fixes=args.unsafe_fixes,
    )
    if args.verify or args.verify_report or args.only_faster:
        return _verify(args, settings)
    if args.device:
        raise ConfigError("--device applies to --verify")
    from einlint.engine.driver import RunOptions, run

    options = RunOptions(
        fix=args.fix and not args.diff,
        diff=args.diff,
        unsafe_fixes=settings.unsafe_fixes,
        jobs=args.jobs,
        use_cache=not args.no_cache,
        profile=args.profile,
    )
    progress = _Progress() if sys.stderr.isatty() else None
    try:
        reports = run(args.paths, settings, options, on_progress=progress.update if progress else None)
    finally:
        if progress:
            progress.close()
    return _report(reports, args, settings.unsafe_fixes)


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


def _verify(args: argparse.Namespace, settings) -> int:
    """--verify lives in einlint.verify, the one package that imports torch."""
    from einlint.verify.command import run_verify

    return run_verify(args, settings)


def _report(reports, args: argparse.Namespace, unsafe_fixes: bool) -> int:
    from einlint.reporters import REPORTERS
    from einlint.reporters.text import statistics, summary
    from einlint.rules import all_rules

    diagnostics = [d for report in reports for d in report.diagnostics]
    errors = [e for report in reports for e in report.errors]
    fixed = sum(report.fixed for report in reports)
    for error in errors:
        print(f"{error.path}: error: {error.reason}", file=sys.stderr)
    out = sys.stdout
    if args.diff:
        out.write("".join(report.diff for report in reports))
    else:
        out.write(REPORTERS[args.format](diagnostics, unsafe_fixes))
    if args.statistics:
        (sys.stderr if args.format != "text" or args.diff else out).write(statistics(diagnostics, {r.code: r.name for r in all_rules()}))
    if args.format == "text":
        print(summary(diagnostics, unsafe_fixes, fixed, dry_run=args.diff, errors=len({e.path for e in errors})), file=sys.stderr if args.diff else out)
    if args.profile:
        _print_profile(reports)
    if errors:
        return EXIT_ERROR
    if args.diff and any(report.diff for report in reports):
        return EXIT_FINDINGS
    return EXIT_FINDINGS if diagnostics else EXIT_CLEAN


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
        print(f"{rule.code}  {rule.name:<28} {rule.summary()}{default}")
    return EXIT_CLEAN


def _explain(code: str) -> int:
    from einlint.rules import rule_by_code

    rule = rule_by_code(code)
    if rule is None:
        print(f"einlint: error: no rule {code!r} (see einlint --list-rules)", file=sys.stderr)
        return EXIT_ERROR
    print(f"{rule.code} ({rule.name})\n")
    print(rule.documentation())
    return EXIT_CLEAN


class _Progress:
    """A rich progress bar on stderr, started only once a run turns out to be long."""

    def __init__(self) -> None:
        self._bar = None
        self._task = None

    def update(self, done: int, total: int) -> None:
        if self._bar is None:
            if total < PROGRESS_MIN_FILES:
                return
            from rich.progress import Progress

            self._bar = Progress(transient=True, console=None)
            self._bar.console.file = sys.stderr
            self._bar.start()
            self._task = self._bar.add_task("linting", total=total)
        self._bar.update(self._task, completed=done)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.stop()
