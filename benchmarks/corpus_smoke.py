#!/usr/bin/env python3
"""Corpus smoke run: einlint lint and --fix --unsafe-fixes over the transformers and timm sources.

Standalone script, not a test (a few minutes; needs the corpus that ../shared/tools/fetch-corpus
downloads outside the repository). It works on a copy; the corpus itself is only read. Checks:

1. no crash (exit code 0/1/2, no traceback, only one-line ``PATH: error: REASON`` errors) and no
   internal error, in any of the runs;
2. every file --fix changed still compiles;
3. a second --fix changes nothing;
4. findings per rule: found, offering a fix, left after --fix;
5. with torch installed, every changed transformers module is imported from the fixed copy and from the
   original in fresh interpreters, and the outcomes are compared: "import ok", "same failure as the
   original" (unrelated to the fix), "broken by the fix" (the original imports), "different failure".

transformers' hard dependencies that are not installed are stubbed in the importing interpreter
(nothing is installed): a stub module hands out permissive placeholder objects, ``regex`` is served by
the stdlib ``re``, and ``importlib.metadata.version`` reports the lowest version the package accepts.
Both sides of the comparison get the same stubs, so a difference is the fix's doing. ``--no-stubs``
imports against the bare environment instead. Importing only runs module-level code: a fix inside a
function body is exercised by ``einlint --verify``, not here.

    /path/to/venv/bin/python benchmarks/corpus_smoke.py                  # everything
    /path/to/venv/bin/python benchmarks/corpus_smoke.py --no-import      # lint/fix checks only

Exit code 0 when every check passed, 1 otherwise. The summary is printed and written to
``benchmarks/results/corpus_smoke.md`` (``--out-md``) with details in ``corpus_smoke.json``.
"""

from __future__ import annotations

import argparse
import collections
import datetime as dt
import importlib.util
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
FETCH_CORPUS = REPO_ROOT.parent / "shared" / "tools" / "fetch-corpus"
DEFAULT_CORPUS = Path(os.environ.get("EINLINT_CORPUS", Path.home() / ".cache" / "einlint-corpus"))
DEFAULT_RESULTS_DIR = REPO_ROOT / "benchmarks" / "results"
PACKAGES = ("transformers", "timm")
ERROR_LINE = re.compile(r"(?P<path>[^\s:][^:]*): error: (?P<reason>\S.*)")
# Modules imported per interpreter: torch and the package's own base are imported once per batch.
IMPORT_BATCH = 40

# Run as `python -I -B -c IMPORT_HARNESS ROOT STUBS_JSON MODULE...`; prints one JSON line per module.
IMPORT_HARNESS = r'''
import importlib, importlib.abc, importlib.machinery, importlib.metadata, json, sys, types, warnings

root, stubs = sys.argv[1], json.loads(sys.argv[2])
sys.path.insert(0, root)
warnings.simplefilter("ignore")


class _Base:
    def __init__(self, *args, **kwargs):
        pass


class _Placeholder(str):
    """Stands for anything a stubbed package exports: a path string, a callable, a base class, a decorator."""

    def __new__(cls, name="placeholder"):
        return super().__new__(cls, "/nonexistent/" + name)

    def __call__(self, *args, **kwargs):
        if len(args) == 1 and callable(args[0]) and not kwargs:
            return args[0]
        return _Placeholder()

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        return _Placeholder(name)

    def __mro_entries__(self, bases):
        return (_Base,)

    def __iter__(self):
        return iter(())

    def __getitem__(self, key):
        return _Placeholder()

    def __or__(self, other):
        return _Placeholder()

    __ror__ = __or__


class _StubModule(types.ModuleType):
    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        return _Placeholder(name)


class _StubFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in stubs["modules"]:
            return importlib.machinery.ModuleSpec(name, self, is_package=True)
        return None

    def create_module(self, spec):
        module = _StubModule(spec.name)
        module.__path__ = []
        return module

    def exec_module(self, module):
        pass


if stubs["modules"]:
    sys.meta_path.append(_StubFinder())
    for alias, real in stubs["aliases"].items():
        sys.modules[alias] = importlib.import_module(real)
    real_version = importlib.metadata.version

    def version(distribution):
        try:
            return real_version(distribution)
        except importlib.metadata.PackageNotFoundError:
            key = distribution.lower().replace("_", "-")
            if key in stubs["versions"]:
                return stubs["versions"][key]
            raise

    importlib.metadata.version = version

for name in sys.argv[3:]:
    try:
        module = importlib.import_module(name)
        result = {"module": name, "ok": True, "file": getattr(module, "__file__", None)}
    except BaseException as error:  # noqa: BLE001 - SystemExit and the like are outcomes too
        text = str(error).splitlines()[0][:300] if str(error) else ""
        result = {"module": name, "ok": False, "error": f"{type(error).__name__}: {text}"}
    print(json.dumps(result), flush=True)
'''

# Modules whose distribution name says otherwise, and missing modules better served by a stdlib
# near-twin than by placeholders (transformers runs regex patterns at import time).
MODULE_OF_DISTRIBUTION = {"pyyaml": "yaml", "pillow": "PIL", "scikit-learn": "sklearn"}
ALIASES = {"regex": "re"}


@dataclass
class Run:
    label: str
    exit_code: int
    seconds: float
    out: str
    err: str
    errors: dict[str, str] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    @property
    def internal_errors(self) -> dict[str, str]:
        return {path: reason for path, reason in self.errors.items() if reason.startswith("internal error")}


def resolve_corpus(corpus_arg: str | None) -> Path:
    if corpus_arg is not None:
        return Path(corpus_arg).expanduser().resolve()
    if FETCH_CORPUS.is_file():
        completed = subprocess.run([str(FETCH_CORPUS)], capture_output=True, text=True)
        if completed.returncode == 0 and completed.stdout.strip():
            return Path(completed.stdout.strip().splitlines()[-1]).resolve()
        print(f"fetch-corpus failed ({completed.stderr.strip()[-300:]}); trying {DEFAULT_CORPUS}", file=sys.stderr)
    return DEFAULT_CORPUS


def run_einlint(label: str, args: Sequence[str], cwd: Path, timeout_s: float) -> Run:
    command = [sys.executable, "-m", "einlint", *args]
    started = time.perf_counter()
    try:
        completed = subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=timeout_s)
    except subprocess.TimeoutExpired as error:
        return Run(label, -1, time.perf_counter() - started, "", str(error), problems=[f"timed out after {timeout_s:.0f} s"])
    run = Run(label, completed.returncode, time.perf_counter() - started, completed.stdout, completed.stderr)
    if completed.returncode not in (0, 1, 2):
        run.problems.append(f"exit code {completed.returncode}")
    if "Traceback" in completed.stdout + completed.stderr:
        run.problems.append("a traceback was printed")
    for line in completed.stderr.splitlines():
        match = ERROR_LINE.fullmatch(line)
        if match is None:
            # --diff, --statistics and the like are not used here: stderr holds only error lines.
            run.problems.append(f"stderr line that is not a one-line error: {line[:200]!r}")
        else:
            run.errors[match["path"]] = match["reason"]
    return run


def snapshot(root: Path) -> dict[str, bytes]:
    return {str(path.relative_to(root)): path.read_bytes() for path in sorted(root.rglob("*.py"))}


def compile_problem(data: bytes, path: str) -> str | None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            compile(data, path, "exec", dont_inherit=True)
        except (SyntaxError, ValueError, RecursionError, MemoryError) as error:
            return f"{type(error).__name__}: {error}"
    return None


def findings_by_rule(run: Run) -> tuple[collections.Counter, collections.Counter]:
    """(findings per code, findings offering a fix per code) from a --format json run."""
    found: collections.Counter = collections.Counter()
    fixable: collections.Counter = collections.Counter()
    try:
        findings = json.loads(run.out or "[]")
    except json.JSONDecodeError:
        run.problems.append("--format json printed something that is not JSON")
        return found, fixable
    for finding in findings:
        found[finding["code"]] += 1
        if finding["fix"]:
            fixable[finding["code"]] += 1
    return found, fixable


# ---------------------------------------------------------------------------------------------------------
# Imports


def requirement_stubs(corpus: Path, package: str) -> dict:
    """The package's hard requirements (Requires-Dist without an extra) that cannot be imported here."""
    stubs: dict = {"modules": [], "aliases": {}, "versions": {}}
    for metadata in sorted((corpus / package).glob(f"{package}-*.dist-info/METADATA")):
        for line in metadata.read_text(encoding="utf-8", errors="replace").splitlines():
            if not line.startswith("Requires-Dist:") or "extra ==" in line:
                continue
            requirement = line.split(":", 1)[1].split(";")[0].strip()
            match = re.match(r"([A-Za-z0-9._-]+)\s*(.*)", requirement)
            if not match:
                continue
            distribution = match[1].lower().replace("_", "-")
            module = MODULE_OF_DISTRIBUTION.get(distribution, distribution.replace("-", "_").replace(".", "_"))
            if module == "torch" or importlib.util.find_spec(module) is not None:
                continue
            lower = re.search(r">=\s*([0-9][^,\s]*)", match[2])
            stubs["versions"][distribution] = lower[1] if lower else "99999"
            if module in ALIASES:
                stubs["aliases"][module] = ALIASES[module]
            else:
                stubs["modules"].append(module)
    return stubs


def import_batch(root: Path, stubs: dict, modules: list[str], timeout_s: float) -> dict[str, dict]:
    """{module: outcome} for ``modules`` imported in order in one interpreter; modules of a batch that
    died or hung are retried one interpreter each."""
    command = [sys.executable, "-I", "-B", "-c", IMPORT_HARNESS, str(root), json.dumps(stubs), *modules]
    with tempfile.TemporaryDirectory() as scratch:
        try:
            completed = subprocess.run(command, cwd=scratch, capture_output=True, text=True, timeout=timeout_s)
            output = completed.stdout
            died = f"interpreter exited {completed.returncode}: {(completed.stderr.strip().splitlines() or [''])[-1][:200]}"
        except subprocess.TimeoutExpired as error:
            output = error.stdout.decode() if isinstance(error.stdout, bytes) else (error.stdout or "")
            died = f"timed out after {timeout_s:.0f} s"
    outcomes = {}
    for line in output.splitlines():
        try:
            outcome = json.loads(line)
        except json.JSONDecodeError:
            continue
        outcomes[outcome["module"]] = outcome
    missing = [module for module in modules if module not in outcomes]
    if missing and len(modules) == 1:
        return {modules[0]: {"module": modules[0], "ok": False, "error": died}}
    for module in missing:
        outcomes.update(import_batch(root, stubs, [module], timeout_s))
    return outcomes


def import_all(root: Path, stubs: dict, modules: list[str], jobs: int, timeout_s: float) -> dict[str, dict]:
    batches = [modules[index : index + IMPORT_BATCH] for index in range(0, len(modules), IMPORT_BATCH)]
    outcomes: dict[str, dict] = {}
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        for result in pool.map(lambda batch: import_batch(root, stubs, batch, timeout_s), batches):
            outcomes.update(result)
    for module, outcome in outcomes.items():
        # An import that succeeds from anywhere but ``root`` did not test the file under it.
        if outcome["ok"] and not str(outcome.get("file") or "").startswith(str(root)):
            outcomes[module] = {"module": module, "ok": False, "error": f"imported from {outcome.get('file')}, not {root}"}
        elif not outcome["ok"]:
            # Messages name files under the root; the same failure on both copies must compare equal.
            outcome["error"] = outcome["error"].replace(str(root), "<root>")
    return outcomes


def module_name(relative: str) -> str:
    parts = list(Path(relative).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def compare_imports(original: dict[str, dict], fixed: dict[str, dict]) -> dict[str, list[tuple[str, str]]]:
    verdicts: dict[str, list[tuple[str, str]]] = {"import ok": [], "same failure as the original": [], "broken by the fix": [], "different failure": []}
    for module in sorted(fixed):
        after, before = fixed[module], original[module]
        if after["ok"]:
            verdicts["import ok"].append((module, ""))
        elif before["ok"]:
            verdicts["broken by the fix"].append((module, after["error"]))
        elif before["error"] == after["error"]:
            verdicts["same failure as the original"].append((module, after["error"]))
        else:
            verdicts["different failure"].append((module, f"original: {before['error']} / fixed: {after['error']}"))
    return verdicts


# ---------------------------------------------------------------------------------------------------------
# Report


def markdown(summary: dict) -> str:
    lines = [
        "# einlint corpus smoke run",
        "",
        f"- date: {summary['date']}",
        f"- python: {summary['python']}; machine: {summary['machine']}",
        f"- corpus: {summary['corpus']} ({', '.join(summary['packages'])})",
        f"- rules: {summary['select']}",
        "",
        "| check | result |",
        "|---|---|",
    ]
    for name, value in summary["checks"].items():
        lines.append(f"| {name} | {value} |")
    lines += ["", "| run | exit | seconds | files with errors | internal errors | problems |", "|---|---:|---:|---:|---:|---|"]
    for run in summary["runs"]:
        lines.append(
            f"| {run['label']} | {run['exit_code']} | {run['seconds']:.1f} | {len(run['errors'])} | "
            f"{len(run['internal_errors'])} | {'; '.join(run['problems']) or 'none'} |"
        )
    lines += ["", "| rule | found | with a fix | left after --fix |", "|---|---:|---:|---:|"]
    for code, counts in summary["rules"].items():
        lines.append(f"| {code} | {counts['found']} | {counts['fixable']} | {counts['left']} |")
    totals = [sum(counts[key] for counts in summary["rules"].values()) for key in ("found", "fixable", "left")]
    lines.append(f"| **total** | {totals[0]} | {totals[1]} | {totals[2]} |")
    if summary.get("imports"):
        imports = summary["imports"]
        lines += ["", f"Imports of the {imports['modules']} changed transformers modules ({imports['mode']}):", "", "| outcome | modules |", "|---|---:|"]
        for verdict, entries in imports["verdicts"].items():
            lines.append(f"| {verdict} | {len(entries)} |")
        for verdict in ("broken by the fix", "different failure"):
            for module, detail in imports["verdicts"][verdict]:
                lines.append(f"\n- {verdict}: `{module}`: {detail}")
        failures = collections.Counter(detail for module, detail in imports["verdicts"]["same failure as the original"])
        if failures:
            lines += ["", "Failures shared with the original (most common first):", ""]
            lines += [f"- {count} × {detail}" for detail, count in failures.most_common(8)]
    for title, entries in (("Files that do not compile after --fix", summary["not_compiling"]), ("Files a second --fix changed", summary["not_idempotent"])):
        if entries:
            lines += ["", f"{title}:", ""] + [f"- `{entry}`" for entry in entries]
    return "\n".join(lines) + "\n"


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", metavar="DIR", help="a directory as printed by fetch-corpus (default: run fetch-corpus)")
    parser.add_argument("--select", help="rule codes to run (default: every rule, off-by-default ones included)")
    parser.add_argument("--jobs", type=int, default=0, help="einlint worker processes (default: one per CPU)")
    parser.add_argument("--import-jobs", type=int, default=os.cpu_count() or 1, help="interpreters importing at once")
    parser.add_argument("--no-import", action="store_true", help="skip the import check")
    parser.add_argument("--no-stubs", action="store_true", help="import against the bare environment, stubbing nothing")
    parser.add_argument("--timeout", type=float, default=1800, metavar="S", help="limit per einlint run and per import batch")
    parser.add_argument("--keep", metavar="DIR", help="work in DIR (created; kept afterwards) instead of a temporary directory")
    parser.add_argument("--out-md", type=Path, default=DEFAULT_RESULTS_DIR / "corpus_smoke.md")
    parser.add_argument("--out-json", type=Path, default=DEFAULT_RESULTS_DIR / "corpus_smoke.json")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    corpus = resolve_corpus(args.corpus)
    sources = {package: corpus / package / package for package in PACKAGES}
    missing = [str(path) for path in sources.values() if not path.is_dir()]
    if missing:
        print(f"corpus_smoke: no corpus at {', '.join(missing)} (run ../shared/tools/fetch-corpus)", file=sys.stderr)
        return 1
    sys.path.insert(0, str(REPO_ROOT))
    from einlint.rules import all_rules

    select = args.select or ",".join(rule.code for rule in all_rules())
    work = Path(args.keep).resolve() if args.keep else Path(tempfile.mkdtemp(prefix="einlint-corpus-smoke-"))
    try:
        return _smoke(args, corpus, sources, select, work)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


def _smoke(args: argparse.Namespace, corpus: Path, sources: dict[str, Path], select: str, work: Path) -> int:
    fixed_root = work / "fixed"
    if fixed_root.exists():
        shutil.rmtree(fixed_root)
    for package, source in sources.items():
        shutil.copytree(source, fixed_root / package, ignore=shutil.ignore_patterns("__pycache__"))
    original = snapshot(fixed_root)
    print(f"corpus: {len(original)} files from {corpus}; working in {work}", file=sys.stderr)
    common = ["--no-cache", "--select", select, "--unsafe-fixes", "-j", str(args.jobs)]
    packages = list(PACKAGES)

    def einlint(label: str, *extra: str) -> Run:
        print(f"einlint {label} ...", file=sys.stderr)
        return run_einlint(label, [*common, *extra, *packages], fixed_root, args.timeout)

    lint = einlint("lint", "--format", "json")
    found, fixable = findings_by_rule(lint)
    fix = einlint("--fix", "--fix")
    after_fix = snapshot(fixed_root)
    fix_again = einlint("second --fix", "--fix")
    after_second = snapshot(fixed_root)
    relint = einlint("lint after --fix", "--format", "json")
    left, _ = findings_by_rule(relint)
    runs = [lint, fix, fix_again, relint]

    changed = sorted(path for path, data in after_fix.items() if original.get(path) != data)
    not_compiling = [f"{path}: {problem}" for path in changed if (problem := compile_problem(after_fix[path], path))]
    not_idempotent = sorted(path for path, data in after_second.items() if after_fix.get(path) != data)
    rewritten_without_fix = sorted(set(changed) - {str(Path(path)) for path in _paths_with_fix(lint)})

    summary: dict = {
        "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "python": f"{platform.python_version()} ({sys.executable})",
        "machine": f"{platform.system()} {platform.machine()}, {os.cpu_count()} CPUs",
        "corpus": str(corpus),
        "packages": [f"{package}: {sum(1 for path in original if path.startswith(package + os.sep))} files" for package in PACKAGES],
        "select": select,
        "runs": [
            {
                "label": run.label,
                "exit_code": run.exit_code,
                "seconds": run.seconds,
                "errors": run.errors,
                "internal_errors": run.internal_errors,
                "problems": run.problems,
            }
            for run in runs
        ],
        "rules": {code: {"found": found[code], "fixable": fixable[code], "left": left[code]} for code in sorted(set(found) | set(left))},
        "changed": changed,
        "not_compiling": not_compiling,
        "not_idempotent": not_idempotent,
    }
    crashes = sum(len(run.problems) for run in runs)
    internal = sum(len(run.internal_errors) for run in runs)
    summary["checks"] = {
        "crashes (bad exit code, traceback or malformed stderr)": crashes,
        "internal errors": internal,
        "files einlint could not process": len(lint.errors),
        "files changed by --fix": f"{len(changed)} ({sum(1 for path in changed if path.startswith('transformers'))} transformers, "
        f"{sum(1 for path in changed if path.startswith('timm'))} timm)",
        "changed files that do not compile": len(not_compiling),
        "files changed by a second --fix": len(not_idempotent),
        "files changed without a finding offering a fix": len(rewritten_without_fix),
    }
    ok = crashes == internal == len(not_compiling) == len(not_idempotent) == len(rewritten_without_fix) == 0

    if not args.no_import:
        ok = _check_imports(args, corpus, fixed_root, changed, summary) and ok

    report = markdown(summary)
    print(report)
    for path, content in ((args.out_md, report), (args.out_json, json.dumps(summary, indent=1) + "\n")):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content, encoding="utf-8")
    print(f"written: {args.out_md}, {args.out_json}", file=sys.stderr)
    return 0 if ok else 1


def _paths_with_fix(run: Run) -> set[str]:
    try:
        return {finding["path"] for finding in json.loads(run.out or "[]") if finding["fix"]}
    except json.JSONDecodeError:
        return set()


def _check_imports(args: argparse.Namespace, corpus: Path, fixed_root: Path, changed: list[str], summary: dict) -> bool:
    if importlib.util.find_spec("torch") is None:
        summary["checks"]["imports"] = "skipped: torch is not installed"
        return True
    modules = [module_name(path) for path in changed if path.startswith("transformers" + os.sep)]
    stubs = {"modules": [], "aliases": {}, "versions": {}} if args.no_stubs else requirement_stubs(corpus, "transformers")
    mode = (
        "bare environment"
        if args.no_stubs
        else ("missing requirements stubbed: " + (", ".join(stubs["modules"] + [f"{alias}→{real}" for alias, real in stubs["aliases"].items()]) or "none"))
    )
    print(f"importing {len(modules)} changed modules, fixed and original ({mode}) ...", file=sys.stderr)
    started = time.perf_counter()
    fixed = import_all(fixed_root, stubs, modules, args.import_jobs, args.timeout)
    original = import_all(corpus / "transformers", stubs, modules, args.import_jobs, args.timeout)
    verdicts = compare_imports(original, fixed)
    summary["imports"] = {"modules": len(modules), "mode": mode, "seconds": time.perf_counter() - started, "verdicts": verdicts}
    summary["checks"]["imports"] = ", ".join(f"{verdict}: {len(entries)}" for verdict, entries in verdicts.items())
    return not verdicts["broken by the fix"] and not verdicts["different failure"]


if __name__ == "__main__":
    sys.exit(main())
