"""``einlint --verify``: lint, verify every fix (unsafe ones included), report; under ``--fix``/``--diff``
apply only the fixes the verifier approved, within the fix tier the user chose."""

from __future__ import annotations

import argparse
import sys
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from einlint.config import ConfigError, Configuration, Settings
from einlint.diagnostics import Diagnostic, FileError
from einlint.verify.runtime import VerifierUnavailable, check_torch_installed

if TYPE_CHECKING:
    from rich.progress import TaskID

    from einlint.verify.verifier import FixVerification, VerifyOptions
    from einlint.verify.worker import PairWorker

EXIT_CLEAN, EXIT_FINDINGS, EXIT_ERROR = 0, 1, 2
# The shapes tried and the time spent per measurement by ``einlint --verify``.
CLI_PROFILES = ("tiny", "medium", "large")
CLI_MIN_RUN_TIME = 0.1


def run_verify(args: argparse.Namespace, settings: Configuration | Settings) -> int:
    """Exit 2 with one line on an error nothing else caught: 1 means "findings", and a traceback from
    the verifier means nothing to the user. One fix's failure never gets here (it is that fix's
    verdict); ``--fix`` runs only after every fix has been verified, so such an error writes nothing."""
    try:
        return _run_verify(args, settings)
    except (ConfigError, KeyboardInterrupt):
        raise
    except Exception as error:  # noqa: BLE001 - the run's last line of defence
        from einlint.verify.escaping import printable

        print(f"einlint: error: the verifier failed ({printable(_one_line(error))})", file=sys.stderr)
        return EXIT_ERROR


def _one_line(error: BaseException) -> str:
    lines = str(error).strip().splitlines()
    return f"{type(error).__name__}: {lines[0] if lines else ''}"[:300]


def _run_verify(args: argparse.Namespace, settings: Configuration | Settings) -> int:
    from einlint.engine.driver import RunOptions, run
    from einlint.verify.approval import ApprovedFixes
    from einlint.verify.escaping import printable
    from einlint.verify.report import render_table, summary, to_json, write_markdown
    from einlint.verify.verifier import NOT_EQUIVALENT, VerifyOptions, verify_pair
    from einlint.verify.worker import PairWorker, WorkerLimits

    if args.format not in ("text", "json"):
        raise ConfigError("--verify prints a table (--format text) or JSON (--format json)")
    try:
        check_torch_installed()
    except VerifierUnavailable as error:
        print(f"einlint: error: {error}", file=sys.stderr)
        return EXIT_ERROR
    use_cache = not args.no_cache
    # --no-cache verifies again and replaces the cached verdict: a stale figure must not outlive it.
    options = VerifyOptions(device=args.device, profiles=CLI_PROFILES, min_run_time=CLI_MIN_RUN_TIME, read_cache=use_cache)
    # Each fix is verified in a worker process with resource limits (worker.py), started now so that
    # importing torch there overlaps with linting here; this process never imports torch.
    with PairWorker(WorkerLimits.for_time_budget(options.time_budget), task=verify_pair) as worker:
        worker.start(args.device)
        verified = _lint_and_verify(args, settings, options, worker)
    if verified is None:
        return EXIT_ERROR
    verifications, errors = verified
    fixed = None
    diff = ""
    remaining = None
    if args.fix or args.diff:
        approved = ApprovedFixes.from_verifications(verifications, only_faster=args.only_faster)
        # Which tier a file's fixes may come from is its own settings' choice (--unsafe-fixes included).
        fix_options = RunOptions(
            fix=args.fix and not args.diff, diff=args.diff, unsafe_fixes=False, jobs=args.jobs,
            use_cache=False, fix_filter=approved,
        )  # fmt: skip
        fix_reports = run(args.paths, settings, fix_options)
        errors.extend(error for report in fix_reports for error in report.errors)
        fixed = sum(report.fixed for report in fix_reports)
        diff = "".join(report.diff for report in fix_reports)
        remaining = [diagnostic for report in fix_reports for diagnostic in report.diagnostics]

    for file_error in errors:
        print(printable(f"{file_error.path}: error: {file_error.reason}"), file=sys.stderr)
    out = sys.stderr if args.diff else sys.stdout
    if args.format == "json":
        out.write(to_json(verifications, fixed))
    else:
        out.write(render_table(verifications, width=_width(), color=out.isatty()))
        out.write(summary(verifications) + "\n")
        if fixed is not None and not args.diff:
            out.write(f"Applied {fixed} verified fix{'es' if fixed != 1 else ''}; {len(remaining or [])} finding(s) remain.\n")
    if args.diff:
        sys.stdout.write(diff)
    if args.verify_report:
        report_path = Path(args.verify_report)
        try:
            notes = write_markdown(verifications, report_path)
        except OSError as error:
            print(printable(f"einlint: error: cannot write {report_path}: {error.strerror or error}"), file=sys.stderr)
            return EXIT_ERROR
        for note in notes:
            print(printable(f"einlint: {note}"), file=sys.stderr)
    if errors:
        return EXIT_ERROR
    if any(item.result.verdict == NOT_EQUIVALENT for item in verifications):
        return EXIT_FINDINGS
    if args.diff:
        return EXIT_FINDINGS if diff else EXIT_CLEAN
    if remaining:
        return EXIT_FINDINGS
    return EXIT_CLEAN


def _lint_and_verify(
    args: argparse.Namespace, settings: Configuration | Settings, options: VerifyOptions, worker: PairWorker
) -> tuple[list[FixVerification], list[FileError]] | None:
    """Lint the paths, then verify every fix (unsafe ones included: which of them --fix may apply is
    decided later). None when the verifier cannot run at all (the message is printed): no torch in
    the worker, a device it does not have."""
    from einlint.cli import _observations
    from einlint.engine.driver import RunOptions, run
    from einlint.engine.source import SourceError, SourceText
    from einlint.observe.cases import observed_operands
    from einlint.verify.verifier import verify_findings

    observations = _observations(args)
    reports = run(args.paths, settings, RunOptions(unsafe_fixes=True, jobs=args.jobs, use_cache=not args.no_cache))
    errors = [error for report in reports for error in report.errors]
    findings: list[tuple[Diagnostic, str]] = []
    for report in reports:
        fixable = [diagnostic for diagnostic in report.diagnostics if diagnostic.fix is not None]
        if not fixable:
            continue
        try:
            source = SourceText.from_bytes(report.path, Path(report.path).read_bytes())
        except (OSError, SourceError) as error:
            errors.append(FileError(report.path, f"cannot read for verification: {error}"))
            continue
        findings.extend((diagnostic, source.text) for diagnostic in fixable)
    progress = _Progress() if sys.stderr.isatty() else None
    try:
        worker.wait_ready(options.device)
        observed = partial(observed_operands, observations=observations) if observations is not None else None
        verifications = verify_findings(findings, options, on_progress=progress.update if progress else None, verify=worker.verify, observed=observed)
    except VerifierUnavailable as error:
        print(f"einlint: error: {error}", file=sys.stderr)
        return None
    finally:
        if progress:
            progress.close()
    return verifications, errors


def _width() -> int:
    import shutil

    return max(120, shutil.get_terminal_size((160, 24)).columns)


class _Progress:
    """A transient progress bar on stderr: verifying a fix takes seconds, not microseconds."""

    def __init__(self) -> None:
        from rich.console import Console
        from rich.progress import Progress

        self._bar = Progress(transient=True, console=Console(file=sys.stderr))
        self._task: TaskID | None = None

    def update(self, done: int, total: int) -> None:
        if self._task is None:
            self._bar.start()
            self._task = self._bar.add_task("verifying fixes", total=total)
        self._bar.update(self._task, completed=done)

    def close(self) -> None:
        if self._task is not None:
            self._bar.stop()
