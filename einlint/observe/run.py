"""``einlint observe [--observations PATH] [PATHS...] -- COMMAND [ARGS...]``.

1. Lint PATHS (default: the project's root) in this process, without torch, and write the table of
   flagged statements (file, lines, the code object they run in, the fix's readable operands).
2. Run COMMAND with a ``sitecustomize`` first on ``PYTHONPATH`` that starts the recorder on that
   table in every Python process that inherits the environment (the command itself, its Python
   subprocesses and workers); the ``sitecustomize`` it shadows, if any, still runs.
3. Merge what every process recorded into the observations file, and exit with COMMAND's exit code.
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from einlint.config import ConfigError, Configuration
from einlint.observe import observations as model
from einlint.observe.recorder import SITES_VARIABLE, SPOOL_VARIABLE
from einlint.observe.sites import Operand, Statement, line_starts_of, site_of, source_lines
from einlint.reporters import printable

EXIT_ERROR = 2
USAGE = "einlint observe [--observations PATH] [PATHS...] -- COMMAND [ARGS...]"

# The recorded process imports this first; it starts the recorder, then runs the sitecustomize it
# shadows. It must never stop the program: a failure is one line on stderr.
BOOTSTRAP = """\
import os, sys

def _einlint_observe():
    here = os.path.dirname(os.path.abspath(__file__))
    library = os.environ.get("EINLINT_OBSERVE_LIBRARY", "")
    added = False
    try:
        try:
            from einlint.observe import recorder
        except ImportError:
            sys.path.append(library)
            added = True
            from einlint.observe import recorder
        recorder.start_from_environment()
    except Exception as error:
        sys.stderr.write("einlint observe: not recording in this process: %s: %s\\n" % (type(error).__name__, error))
    finally:
        if added and library in sys.path:
            sys.path.remove(library)
    sys.path[:] = [entry for entry in sys.path if os.path.abspath(entry or ".") != here]
    shadowed = sys.modules.pop("sitecustomize", None)
    import importlib.util
    if importlib.util.find_spec("sitecustomize") is not None:
        import sitecustomize  # noqa: F401 - the one this file shadows
    elif shadowed is not None:
        sys.modules["sitecustomize"] = shadowed

_einlint_observe()
del _einlint_observe
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="einlint observe", usage=USAGE, description="Run COMMAND and record what flows through the flagged statements.")
    parser.add_argument("--observations", metavar="PATH", help="the observations file (default: .einlint/observations.json beside the nearest pyproject.toml)")
    parser.add_argument("paths", nargs="*", help="files or directories whose flagged statements are watched (default: the project's root)")
    return parser


def main(argv: list[str]) -> int:
    if "--" not in argv:
        print(f"usage: {USAGE}", file=sys.stderr)
        print("einlint observe: error: give the command after --", file=sys.stderr)
        return EXIT_ERROR
    split = argv.index("--")
    options, command = argv[:split], argv[split + 1 :]
    try:
        args = build_parser().parse_args(options)
    except SystemExit as exit_:
        return EXIT_ERROR if exit_.code not in (0, None) else 0
    if not command:
        print("einlint observe: error: no command after --", file=sys.stderr)
        return EXIT_ERROR
    try:
        return observe(args, command)
    except ConfigError as error:
        print(f"einlint: error: {error}", file=sys.stderr)
        return EXIT_ERROR


def observe(args: argparse.Namespace, command: list[str]) -> int:
    root = model.project_root()
    path = Path(args.observations) if args.observations else model.default_path()
    try:
        existing = model.read(path, root)
    except model.ObservationsError as error:
        raise ConfigError(f"{error}; not overwritten") from None
    table = site_table(args.paths or [str(root)], root)
    spool = Path(tempfile.mkdtemp(prefix="einlint-observe-"))
    boot = spool / "boot"
    boot.mkdir()
    try:
        (spool / "sites.json").write_text(json.dumps(table), encoding="utf-8")
        (boot / "sitecustomize.py").write_text(BOOTSTRAP, encoding="utf-8")
        code = _run(command, _environment(boot, spool))
        recorded = _recorded(spool)
    finally:
        shutil.rmtree(spool, ignore_errors=True)
    current = {(entry["key"][0], entry["key"][1]): entry["key"][2] for entry in table}
    # A statement edited since an earlier run: its old observations can never match again.
    stale = [key for key in existing.sites if key[:2] in current and current[key[:2]] != key[2]]
    merged = existing.without(stale).merged(recorded)
    try:
        model.write(path, merged)
    except OSError as error:
        print(f"einlint observe: error: cannot write {printable(str(path))}: {error.strerror or error}", file=sys.stderr)
        return code if code else EXIT_ERROR
    ran = {site.key for site in recorded}
    flagged = [tuple(entry["key"]) for entry in table if entry.get("flagged")]
    einsum_only = [tuple(entry["key"]) for entry in table if not entry.get("flagged")]
    flagged_keys = set(flagged)
    executions = sum(site.executions for site in recorded if site.key in flagged_keys)
    also = f", {len(ran.intersection(einsum_only))} of {len(einsum_only)} other einsum calls" if einsum_only else ""
    counted = f"{executions} execution{'' if executions == 1 else 's'}"
    print(
        f"einlint observe: {len(ran.intersection(flagged))} of {len(flagged)} flagged statements ran ({counted}){also}; wrote {printable(str(path))}",
        file=sys.stderr,
    )
    return code


def site_table(paths: list[str], root: Path) -> list[dict]:
    """The statements to watch under ``paths``, one entry per statement: each flagged statement, with
    the operands its fix reads, and each ``torch.einsum`` call's statement, with the call's operands
    (what the rules that report only from observations read)."""
    from einlint.engine.driver import RunOptions, run
    from einlint.engine.source import SourceError, SourceText
    from einlint.observe.einsum_calls import einsum_calls

    reports = run(paths, Configuration(), RunOptions())
    table: dict[tuple, dict] = {}
    for report in reports:
        for error in report.errors:
            print(f"{printable(error.path)}: error: {printable(error.reason)}", file=sys.stderr)
        if report.path.endswith(".ipynb"):
            continue
        absolute = os.path.abspath(report.path)
        try:
            relative = Path(absolute).relative_to(root).as_posix()
            with open(report.path, "rb") as handle:
                text = SourceText.from_bytes(report.path, handle.read()).text
            if not report.diagnostics and "einsum" not in text:
                continue
            tree = ast.parse(text)
        except (ValueError, OSError, SourceError, SyntaxError, RecursionError, MemoryError):
            continue
        lines, line_starts = source_lines(text), line_starts_of(text)
        for diagnostic in report.diagnostics:
            site = site_of(diagnostic, tree, lines, text, line_starts)
            if site is None:
                continue
            entry = _entry(table, relative, absolute, site.statement, statement_result=True)
            rewrite = site.rewrite
            if rewrite is None:
                continue
            _add_operands(entry, rewrite.operands)
            if rewrite.equation is not None and all(operand.access is not None for operand in rewrite.operands):
                entry["rewrites"].append(
                    {"key": rewrite.key, "equation": rewrite.equation, "operands": [o.text for o in rewrite.operands], "replaces_value": site.replaces_value}
                )
        for call in einsum_calls(text, tree):
            _add_operands(_entry(table, relative, absolute, call.statement, statement_result=False), call.operands)
    return list(table.values())


def _entry(table: dict[tuple, dict], relative: str, absolute: str, statement: Statement, statement_result: bool) -> dict:
    """The table's entry for ``statement``, made on first use. The statement's result is recorded
    where a fix may replace it (``result-layout``); an einsum call alone needs its operands only."""
    key = (relative, statement.line, statement.statement_hash)
    entry = table.setdefault(
        key,
        {
            "file": os.path.realpath(absolute), "key": list(key), "line": statement.line, "end_line": statement.end_line,
            "scope_name": statement.scope_name, "scope_lines": list(statement.scope_lines), "operands": [], "result": None,
            "rewrites": [],
        },
    )  # fmt: skip
    if statement_result:
        entry["result"] = statement.result_name
        entry["flagged"] = True
    return entry


def _add_operands(entry: dict, operands: tuple[Operand, ...]) -> None:
    for operand in operands:
        if operand.access is not None and [operand.text, list(operand.access)] not in entry["operands"]:
            entry["operands"].append([operand.text, list(operand.access)])


def _environment(boot: Path, spool: Path) -> dict[str, str]:
    environment = dict(os.environ)
    python_path = environment.get("PYTHONPATH")
    environment["PYTHONPATH"] = str(boot) + (os.pathsep + python_path if python_path else "")
    environment[SITES_VARIABLE] = str(spool / "sites.json")
    environment[SPOOL_VARIABLE] = str(spool)
    environment["EINLINT_OBSERVE_LIBRARY"] = str(Path(__file__).resolve().parents[2])
    return environment


def _run(command: list[str], environment: dict[str, str]) -> int:
    try:
        process = subprocess.Popen(command, env=environment)
    except OSError as error:
        raise ConfigError(f"cannot run {printable(command[0])}: {error.strerror or error}") from None
    while True:
        try:
            code = process.wait()
            break
        except KeyboardInterrupt:
            # Ctrl-C reached the command too; wait for it to stop, and keep what it recorded.
            continue
    if code < 0:
        return 128 - code  # killed by a signal, as a shell reports it
    return code


def _recorded(spool: Path) -> list[model.SiteObservation]:
    sites: list[model.SiteObservation] = []
    for part in sorted(spool.glob("run-*.json")):
        try:
            with open(part, encoding="utf-8") as handle:
                sites.extend(model.parse_sites(json.load(handle), str(part)))
        except (OSError, ValueError, model.ObservationsError) as error:
            print(f"einlint observe: warning: {printable(str(part.name))}: {printable(str(error))}; skipped", file=sys.stderr)
    return sites
