"""einlint on input it did not expect, and --fix never losing a byte it was not asked to change.

Every bad input gets exactly one ``PATH: error: REASON`` line on stderr, the other files are still
processed, the exit code is 2, and nothing prints a traceback. ``--fix`` writes through a temporary
file in the same directory and ``os.replace``, only when the content changed, and never writes code that
does not parse. Most runs are in-process (conftest.einlint); signals, named pipes and concurrent runs
use real processes.

The simpler bad-input cases (a syntax error, stray bytes, NUL, a missing path, a latin-1 coding line, CRLF,
a BOM, a plain symlink loop) are in test_cli.py; this file covers the rest and the invariants over whole
trees.
"""

from __future__ import annotations

import ast
import builtins
import difflib
import errno
import json
import os
import random
import re
import shutil
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import FIXTURES, REPOSITORY_ROOT, EinsumTranspose, fixture_files
from einlint.diagnostics import Applicability
from einlint.rules import all_rules
from einlint.rules.base import FixProposal, Rule, Triggers

EXAMPLES = REPOSITORY_ROOT / "examples"
CORPUS = Path(os.environ.get("EINLINT_CORPUS", Path.home() / ".cache" / "einlint-corpus"))
CORPUS_SAMPLE_SIZE = 200
EINLINT = [sys.executable, "-m", "einlint"]
ALL_CODES = ",".join(rule.code for rule in all_rules())

# EIN006 (safe fix) on line 2.
FIXABLE = 'import torch\nx = torch.einsum("ij->...ij", torch.randn(2, 3))\n'
FIXED = FIXABLE.replace('"ij->...ij"', '"ij->ij"')
# EIN003 on line 2, no fix.
UNFIXABLE = 'import torch\nx = torch.einsum("ij->iz", torch.randn(2, 3))\n'

ERROR_LINE = re.compile(r"(?P<path>[^\s:][^:]*): error: (?P<reason>\S.*)")


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


def write(path: Path, content: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content.encode() if isinstance(content, str) else content)
    return path


def error_lines(err: str, out: str = "") -> dict[str, str]:
    """{path: reason} of the stderr lines; each must be one well-formed line, one per file."""
    assert "Traceback" not in err + out
    reasons: dict[str, str] = {}
    for line in err.splitlines():
        match = ERROR_LINE.fullmatch(line)
        assert match, f"not a one-line error: {line!r}"
        assert match["path"] not in reasons, f"more than one line for {match['path']}"
        reasons[match["path"]] = match["reason"]
    return reasons


def temporary_files(root: Path) -> list[Path]:
    return sorted(root.rglob(".einlint-*"))


def parses(data: bytes) -> bool:
    try:
        ast.parse(data)
    except (SyntaxError, ValueError):
        return False
    return True


# --- bad input: one line, the other files still processed, exit 2 ----------------------------------


BAD_INPUTS = [
    pytest.param(b'import torch\nx = torch.einsum("ij->ji",\n', r"does not parse: line 2: '\(' was never closed", id="unclosed-call"),
    pytest.param(b'import torch\n"""einsum\n', r"does not parse: line 2: unterminated triple-quoted string .*", id="unterminated-docstring"),
    pytest.param(
        b'import torch\nif x:\n\ty = torch.einsum("ij->ji", x)\n        z = 1\n',
        r"does not parse: line 4: inconsistent use of tabs and spaces in indentation",
        id="tabs-and-spaces",
    ),
    pytest.param(
        b"import torch\nx = " + b"(" * 200 + b'torch.einsum("ij->ji", a)' + b")" * 200 + b"\n",
        r"does not parse: line 2: too many nested parentheses",
        id="200-nested-parentheses",
    ),
    pytest.param(b'import torch\nx = torch.einsum("ij->ji", a)' + b" + a" * 100_000 + b"\n", r"does not parse: .+", id="100k-term-expression"),
    pytest.param(b'import torch\nx = "\xed\xa0\x80"  # einsum\n', r"not valid utf-8 text \(byte 18\)", id="lone-surrogate"),
    pytest.param(b'import torch\nx = torch.einsum("ij->ji", a)  # \xc3', r"not valid utf-8 text \(byte 46\)", id="truncated-utf8"),
    pytest.param("x = 1  # einsum\n".encode("utf-16"), r"cannot determine the encoding: .*", id="utf16-without-cookie"),
    pytest.param(b"# -*- coding: klingon -*-\nimport torch\n", r"cannot determine the encoding: .*klingon", id="unknown-coding"),
    pytest.param(b"\xef\xbb\xbf# coding: latin-1\nimport torch\n", r"cannot determine the encoding: .+", id="bom-and-latin1-cookie"),
    pytest.param(b"# coding: rot13\nimport torch\n", r"not valid rot13 text .*", id="codec-that-is-not-text"),
    pytest.param(b'import torch\nx = "a\x00b"  # einsum\n', r"contains NUL bytes \(not a text file\)", id="nul-in-a-string"),
]


@pytest.mark.parametrize(("content", "reason"), BAD_INPUTS)
@pytest.mark.parametrize("fix", [False, True], ids=["lint", "fix"])
def test_bad_input_is_one_line_and_the_run_goes_on(content: bytes, reason: str, fix: bool, project: Path, einlint) -> None:
    bad = write(project / "src" / "bad.py", content)
    other = write(project / "src" / "other.py", FIXABLE)
    run = einlint(*(["--fix"] if fix else []), "src")
    assert run.exit_code == 2
    reasons = error_lines(run.err, run.out)
    assert list(reasons) == [os.path.join("src", "bad.py")]
    assert re.fullmatch(reason, reasons[os.path.join("src", "bad.py")])
    assert bad.read_bytes() == content
    if fix:
        assert other.read_text(encoding="utf-8") == FIXED
    else:
        assert [line.split(":")[0] for line in run.out.splitlines() if ": EIN" in line] == [os.path.join("src", "other.py")]


@pytest.mark.parametrize("depth", [100, 150, 190])
def test_deep_but_valid_nesting_is_analysed_or_named_as_too_deep(depth: int, project: Path, einlint) -> None:
    # Python accepts up to 200 nested brackets; libcst's recursive visitors give up earlier (about 150
    # nested calls). Either way: the finding, or the one line that says so, never an internal error.
    content = f'import torch\nx = torch.einsum("ij->...ij", {"f(" * depth}a{")" * depth})\n'.encode()
    write(project / "deep.py", content)
    write(project / "other.py", FIXABLE)
    run = einlint("--fix", ".")
    reasons = error_lines(run.err, run.out)
    if reasons:
        assert reasons == {os.path.join(".", "deep.py"): "nested too deeply for einlint to analyse; not checked"}
        assert (project / "deep.py").read_bytes() == content
    else:
        assert (project / "deep.py").read_bytes() == content.replace(b'"ij->...ij"', b'"ij->ij"')
    assert (project / "other.py").read_text(encoding="utf-8") == FIXED


# --- odd but valid input: linted, and fixed without touching any other byte -----------------------

FIXABLE_LINE = b'x = torch.einsum("ij->...ij", torch.randn(2, 3))'

ODD_INPUTS = [
    pytest.param(b"", None, id="empty"),
    pytest.param(b"\xef\xbb\xbf", None, id="only-a-bom"),
    pytest.param(b"\n\n\n", None, id="only-blank-lines"),
    pytest.param(b"import torch\n" + FIXABLE_LINE, (2, 23), id="no-final-newline"),
    pytest.param(b"import torch\r" + FIXABLE_LINE + b"\r# end\r", (2, 23), id="cr-line-endings"),
    pytest.param(b"import torch\r\n\n\r\n" + FIXABLE_LINE + b"\n# a\r\n# b\n\r\n", (4, 23), id="mixed-line-endings"),
    pytest.param(b"import torch\nif True:\n\t" + FIXABLE_LINE + b"\n\tif 1:\n\t\ty = 1\n", (3, 24), id="tab-indentation"),
    pytest.param(b"import torch\n\x0c\n# \xe2\x80\xa8 \x1c \xc2\x85\n" + FIXABLE_LINE + b"\n", (4, 23), id="form-feed-and-unicode-separators"),
    pytest.param(b"\xef\xbb\xbf# coding: utf-8\nimport torch\n" + FIXABLE_LINE + b"\n", (3, 23), id="bom-and-utf8-cookie"),
    pytest.param(
        b"#!/usr/bin/env python\n# vim: set fileencoding=cp1252 :\nimport torch\nr\xe9sultat = 1  # \x93quoted\x94\n"
        + FIXABLE_LINE.replace(b"x =", b"\xe9t\xe9 =")
        + b"  # \x80\n",
        (5, 25),
        id="cp1252-cookie-on-line-2",
    ),
    pytest.param(
        "import torch\ndonnées = 1\n".encode() + FIXABLE_LINE.replace(b"x =", "é_ψ =".encode()) + " # 𝔼 ✓\n".encode(),
        (3, 25),
        id="utf8-identifiers-and-astral-characters",
    ),
]


@pytest.mark.parametrize(("content", "position"), ODD_INPUTS)
def test_odd_but_valid_input_is_linted_and_fixed_byte_exact(content: bytes, position: tuple[int, int] | None, project: Path, einlint) -> None:
    path = write(project / "odd.py", content)
    run = einlint("odd.py")
    assert error_lines(run.err, run.out) == {}
    if position is None:
        assert (run.exit_code, run.finding_lines) == (0, [])
    else:
        assert run.exit_code == 1
        assert [line.split(":")[1:3] for line in run.finding_lines] == [[str(position[0]), str(position[1])]]
    run = einlint("--fix", "odd.py")
    assert (run.exit_code, error_lines(run.err, run.out)) == (0, {})
    assert path.read_bytes() == content.replace(b'"ij->...ij"', b'"ij->ij"')


@pytest.mark.parametrize("python_flags", [[], ["-W", "error"]], ids=["default-warnings", "warnings-as-errors"])
def test_parser_warnings_about_the_file_stay_off_stderr(python_flags: list[str], project: Path) -> None:
    # Python's parser warns about some valid code (an invalid escape, a number run into a keyword); a
    # subprocess, because pytest captures warnings before they could reach stderr.
    content = b'import torch\npattern = "\\d+"\nflags = [0x1for x in ()]\n' + FIXABLE_LINE + b"\n"
    write(project / "warns.py", content)
    command = [sys.executable, *python_flags, "-m", "einlint", "--no-cache", "warns.py"]
    result = subprocess.run(command, cwd=project, capture_output=True, text=True, timeout=120)
    assert (result.returncode, result.stderr) == (1, "")
    assert result.stdout.startswith("warns.py:4:23: EIN006 ")


# --- a 10 MB file ----------------------------------------------------------------------------------

_PLAIN_FUNCTION = '''def helper_{i}(values, scale={i}):
    """Scale and sum a list of numbers ({i})."""
    total = 0
    for value in values:
        total += value * scale - (value // 3)
    return {{"total": total, "name": "helper_{i}", "items": [scale, scale + 1, scale + 2]}}


'''
_FIXABLE_FUNCTION = """def contract_{i}(a, b):
    return torch.einsum("ij,jk->...ik", a, b)


"""


def test_a_10_mb_file_is_linted_and_fixed_in_reasonable_time(project: Path, einlint) -> None:
    pieces, size, index = ["import torch\n\n"], 0, 0
    while size < 10_000_000:
        piece = (_FIXABLE_FUNCTION if index % 50 == 0 else _PLAIN_FUNCTION).format(i=index)
        pieces.append(piece)
        size += len(piece)
        index += 1
    original = "".join(pieces)
    fixable = original.count('"ij,jk->...ik"')
    path = write(project / "generated.py", original)
    started = time.monotonic()
    run = einlint("--no-cache", "--fix", "generated.py")
    elapsed = time.monotonic() - started
    assert (run.exit_code, error_lines(run.err, run.out)) == (0, {})
    assert f"Fixed {fixable} findings." in run.out
    assert path.read_text(encoding="utf-8") == original.replace('"ij,jk->...ik"', '"ij,jk->ik"')
    # 30-100 s on a busy 2-core machine. The line-ending scan and the splicing of fixes once cost file size
    # times findings: a 10 MB file dense with fixes did not finish in 6 minutes.
    assert elapsed < 300, f"--fix on a 10 MB file took {elapsed:.0f} s"


def _timed_lint(project: Path, einlint, name: str, lines: list[str]) -> tuple[str, float]:
    """Lint one generated file with no cache: (the report, seconds it took)."""
    write(project / name, "\n".join(lines) + "\n")
    started = time.monotonic()
    run = einlint("--no-cache", name)
    return run.out, time.monotonic() - started


def test_one_long_function_is_not_quadratic(project: Path, einlint) -> None:
    """Facts about a name come from the assignment that reaches its use; finding it once scanned every
    earlier statement, and a 3,000-statement function took two minutes (now under 2 s)."""
    lines = ["import torch", "", "def f(w, " + ", ".join(f"x{i}" for i in range(5)) + "):"]
    lines += [f"    y{i} = x{i % 5}.permute(0, 2, 1, 3) @ w" for i in range(3000)]
    report, elapsed = _timed_lint(project, einlint, "long.py", lines)
    assert "Found 3000 findings." in report
    assert elapsed < 60, f"a 3,000-statement function took {elapsed:.0f} s"


def test_names_read_twice_per_statement_do_not_double_the_work(project: Path, einlint) -> None:
    """``x = torch.matmul(x, x)...`` reads x twice, each read follows x's assignment, and so on: without
    memoised facts 1,000 such statements took over a minute (now a few seconds)."""
    lines = ["import torch", "", "def f(x, a, b, c, d):", "    x = x.view(a, b, c, d)"]
    lines += ["    x = torch.matmul(x, x).permute(0, 2, 3, 1).reshape(a, b, c, d).permute(0, 1, 2, 3).view(a, b, c, d)"] * 1000
    report, elapsed = _timed_lint(project, einlint, "chain.py", lines)
    assert "Found 1000 findings." in report
    assert elapsed < 30, f"1,000 chained statements took {elapsed:.0f} s"


# --- the file system changing under einlint ----------------------------------------------------------


def test_symlink_loops_and_a_linked_file(project: Path, einlint) -> None:
    write(project / "tree" / "a" / "one.py", FIXABLE)
    write(project / "tree" / "b" / "two.py", FIXABLE)
    (project / "tree" / "a" / "to_b").symlink_to(project / "tree" / "b", target_is_directory=True)
    (project / "tree" / "b" / "to_a").symlink_to(project / "tree" / "a", target_is_directory=True)
    (project / "tree" / "b" / "up").symlink_to(project / "tree", target_is_directory=True)
    (project / "tree" / "b" / "self.py").symlink_to("self.py")
    run = einlint("--fix", "tree")
    assert run.exit_code == 2
    assert error_lines(run.err, run.out) == {os.path.join("tree", "b", "self.py"): "cannot read: Too many levels of symbolic links"}
    assert "Fixed 2 findings." in run.out


def test_fix_through_a_symlinked_file_rewrites_its_target(project: Path, einlint) -> None:
    target = write(project / "shared" / "model.py", FIXABLE)
    link = project / "pkg" / "model.py"
    link.parent.mkdir()
    link.symlink_to(os.path.join("..", "shared", "model.py"))
    run = einlint("--fix", os.path.join("pkg", "model.py"))
    assert run.exit_code == 0
    assert link.is_symlink(), "the link was replaced by a copy"
    assert target.read_text(encoding="utf-8") == FIXED
    assert temporary_files(project) == []


def test_broken_symlink_in_a_tree(project: Path, einlint) -> None:
    write(project / "src" / "ok.py", FIXABLE)
    (project / "src" / "gone.py").symlink_to("nowhere.py")
    run = einlint("src")
    assert run.exit_code == 2
    assert error_lines(run.err, run.out) == {os.path.join("src", "gone.py"): "broken symbolic link"}
    assert len(run.finding_lines) == 1


def test_named_pipe_in_a_tree_does_not_hang_the_run(project: Path) -> None:
    # Opening a FIFO for reading blocks until a writer comes: a real process with a timeout.
    write(project / "src" / "ok.py", FIXABLE)
    os.mkfifo(project / "src" / "pipe.py")
    result = subprocess.run([*EINLINT, "--no-cache", "src"], cwd=project, capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    assert error_lines(result.stderr, result.stdout) == {os.path.join("src", "pipe.py"): "not a regular file"}
    assert "src/ok.py:2:" in result.stdout


def _discover_then(monkeypatch: pytest.MonkeyPatch, after_first_file) -> None:
    """Make discovery call ``after_first_file()`` once it has yielded its first file, while the rest of
    the tree is still to be walked: the run then meets a tree that changed under it."""
    from einlint.engine import driver

    discover = driver.discover

    def changing(paths, settings):
        called = False
        for item in discover(paths, settings):
            yield item
            if not called and isinstance(item, str):
                called = True
                after_first_file()

    monkeypatch.setattr(driver, "discover", changing)


def test_directory_that_vanishes_while_the_tree_is_walked(project: Path, monkeypatch: pytest.MonkeyPatch, einlint) -> None:
    write(project / "src" / "a" / "first.py", FIXABLE)
    write(project / "src" / "b" / "second.py", FIXABLE)
    write(project / "src" / "c" / "third.py", FIXABLE)
    _discover_then(monkeypatch, lambda: shutil.rmtree(project / "src" / "b"))
    run = einlint("--fix", "src")
    assert run.exit_code == 2
    assert error_lines(run.err, run.out) == {os.path.join("src", "b"): "cannot list directory: No such file or directory"}
    assert (project / "src" / "a" / "first.py").read_text(encoding="utf-8") == FIXED
    assert (project / "src" / "c" / "third.py").read_text(encoding="utf-8") == FIXED


def test_directory_that_vanishes_after_its_files_were_found(project: Path, monkeypatch: pytest.MonkeyPatch, einlint) -> None:
    write(project / "src" / "a" / "first.py", FIXABLE)
    write(project / "src" / "z" / "last.py", FIXABLE)
    write(project / "src" / "z" / "other.py", UNFIXABLE)
    from einlint.engine import driver

    discover = driver.discover

    def then_remove(paths, settings):
        yield from discover(paths, settings)
        shutil.rmtree(project / "src" / "z")

    monkeypatch.setattr(driver, "discover", then_remove)
    run = einlint("--fix", "src")
    assert run.exit_code == 2
    assert error_lines(run.err, run.out) == {
        os.path.join("src", "z", "last.py"): "cannot read: No such file or directory",
        os.path.join("src", "z", "other.py"): "cannot read: No such file or directory",
    }
    assert (project / "src" / "a" / "first.py").read_text(encoding="utf-8") == FIXED


@pytest.mark.parametrize("cache", [True, False], ids=["with-cache", "no-cache"])
def test_file_that_becomes_unreadable_mid_run(cache: bool, project: Path, monkeypatch: pytest.MonkeyPatch, einlint) -> None:
    # chmod 000 does not stop root, so opening the file is made to fail as it would for anyone else.
    write(project / "src" / "a.py", FIXABLE)
    locked = write(project / "src" / "b.py", FIXABLE)
    write(project / "src" / "c.py", FIXABLE)
    real_open = builtins.open
    locked_now: list[bool] = []

    def guarded_open(file, *args, **kwargs):
        if locked_now and os.path.abspath(os.fspath(file)) == str(locked):
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), os.fspath(file))
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", guarded_open)
    _discover_then(monkeypatch, lambda: locked_now.append(True))
    run = einlint(*([] if cache else ["--no-cache"]), "-j", "1", "--fix", "src")
    locked_now.clear()
    assert run.exit_code == 2
    assert error_lines(run.err, run.out) == {os.path.join("src", "b.py"): "cannot read: Permission denied"}
    assert locked.read_text(encoding="utf-8") == FIXABLE
    assert (project / "src" / "a.py").read_text(encoding="utf-8") == FIXED
    assert (project / "src" / "c.py").read_text(encoding="utf-8") == FIXED


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their mode; the in-process variant covers it")
def test_file_with_mode_000(project: Path) -> None:
    write(project / "src" / "a.py", FIXABLE)
    locked = write(project / "src" / "b.py", FIXABLE)
    locked.chmod(0)
    try:
        result = subprocess.run([*EINLINT, "--no-cache", "--fix", "src"], cwd=project, capture_output=True, text=True, timeout=120)
    finally:
        locked.chmod(0o644)
    assert result.returncode == 2
    assert error_lines(result.stderr, result.stdout) == {os.path.join("src", "b.py"): "cannot read: Permission denied"}
    assert (project / "src" / "a.py").read_text(encoding="utf-8") == FIXED


def test_paths_that_do_not_exist_under_fix(project: Path, einlint) -> None:
    write(project / "src" / "a.py", FIXABLE)
    run = einlint("--fix", "missing_dir", "src", os.path.join("src", "missing.py"))
    assert run.exit_code == 2
    assert error_lines(run.err, run.out) == {
        "missing_dir": "no such file or directory",
        os.path.join("src", "missing.py"): "no such file or directory",
    }
    assert (project / "src" / "a.py").read_text(encoding="utf-8") == FIXED


def test_read_only_file_is_not_rewritten_under_fix(project: Path, einlint) -> None:
    read_only = write(project / "src" / "frozen.py", FIXABLE)
    read_only.chmod(0o444)
    writable = write(project / "src" / "open.py", FIXABLE)
    before = read_only.stat()
    run = einlint("--fix", "src")
    assert run.exit_code == 2
    assert error_lines(run.err, run.out) == {os.path.join("src", "frozen.py"): "the file is read-only; not rewritten"}
    after = read_only.stat()
    assert read_only.read_text(encoding="utf-8") == FIXABLE
    assert (after.st_ino, after.st_mtime_ns, stat.S_IMODE(after.st_mode)) == (before.st_ino, before.st_mtime_ns, 0o444)
    assert writable.read_text(encoding="utf-8") == FIXED


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0, reason="only root may give a file to another user")
def test_fix_keeps_the_owner_and_group_of_a_file_it_rewrites(project: Path, einlint) -> None:
    path = write(project / "src" / "theirs.py", FIXABLE)
    os.chown(path, 4321, 4322)
    einlint("--fix", "src")
    assert path.read_text(encoding="utf-8") == FIXED
    after = path.stat()
    assert (after.st_uid, after.st_gid) == (4321, 4322)


def test_parser_failures_without_a_message_still_say_why() -> None:
    from einlint.engine.runner import parse_failure

    assert "ran out of memory" in parse_failure(MemoryError())
    assert parse_failure(RecursionError()) == "nested too deeply for Python's parser"
    assert parse_failure(ValueError("source code string cannot contain null bytes\nmore")) == ("ValueError: source code string cannot contain null bytes")
    assert parse_failure(ValueError()) == "ValueError"


# --- atomic writes -------------------------------------------------------------------------------------


def test_fix_replaces_the_file_from_a_complete_temporary_in_the_same_directory(project: Path, monkeypatch: pytest.MonkeyPatch, einlint) -> None:
    path = write(project / "pkg" / "model.py", FIXABLE)
    path.chmod(0o640)
    real_replace = os.replace
    seen: list[tuple[str, str]] = []

    def checked_replace(source, destination, *args, **kwargs):
        source, destination = os.fspath(source), os.fspath(destination)
        seen.append((source, destination))
        # At the moment of the switch: the original is whole, the temporary holds the whole new text.
        assert Path(destination).read_text(encoding="utf-8") == FIXABLE
        assert Path(source).read_text(encoding="utf-8") == FIXED
        assert stat.S_IMODE(os.stat(source).st_mode) == 0o640
        return real_replace(source, destination, *args, **kwargs)

    monkeypatch.setattr(os, "replace", checked_replace)
    run = einlint("--fix", "pkg")
    assert run.exit_code == 0
    ((source, destination),) = seen
    assert os.path.dirname(source) == os.path.dirname(os.path.abspath(destination)) == str(project / "pkg")
    assert os.path.samefile(destination, path)
    assert path.read_text(encoding="utf-8") == FIXED
    assert temporary_files(project) == []


def test_fix_writes_only_files_whose_content_changed(project: Path, monkeypatch: pytest.MonkeyPatch, add_rule, einlint) -> None:
    add_rule(EinsumTranspose)
    untouched = {
        "clean.py": "import torch\n",
        "unfixable.py": UNFIXABLE,
        # EinsumTranspose's fix is unsafe: shown with --unsafe-fixes, not applied by a plain --fix.
        "unsafe_only.py": 'import torch\nx = torch.einsum("ij->ji", torch.randn(2, 3))\n',
    }
    for name, text in untouched.items():
        write(project / "src" / name, text)
    write(project / "src" / "fixable.py", FIXABLE)
    before = {name: (project / "src" / name).stat() for name in untouched}
    replaced: list[str] = []
    real_replace = os.replace

    def recording_replace(source, destination) -> None:
        replaced.append(os.fspath(destination))
        real_replace(source, destination)

    monkeypatch.setattr(os, "replace", recording_replace)
    einlint("--fix", "src")
    assert [os.path.basename(path) for path in replaced] == ["fixable.py"]
    for name, text in untouched.items():
        after = (project / "src" / name).stat()
        assert (after.st_ino, after.st_mtime_ns) == (before[name].st_ino, before[name].st_mtime_ns), name
        assert (project / "src" / name).read_text(encoding="utf-8") == text


@pytest.mark.parametrize(
    ("failure", "expected_exit"),
    [
        pytest.param(OSError(errno.ENOSPC, os.strerror(errno.ENOSPC)), 2, id="disk-full"),
        pytest.param(KeyboardInterrupt(), 130, id="interrupted"),
    ],
)
def test_failure_while_writing_keeps_the_original_and_leaves_no_temporary(
    failure: BaseException, expected_exit: int, project: Path, monkeypatch: pytest.MonkeyPatch, einlint
) -> None:
    path = write(project / "model.py", FIXABLE)

    def failing_fsync(descriptor: int) -> None:
        raise failure

    monkeypatch.setattr(os, "fsync", failing_fsync)
    run = einlint("--fix", "model.py")
    assert run.exit_code == expected_exit
    if expected_exit == 2:
        assert error_lines(run.err, run.out) == {"model.py": "cannot write: No space left on device"}
    else:
        assert run.err == "einlint: interrupted\n"
    assert path.read_text(encoding="utf-8") == FIXABLE
    assert temporary_files(project) == []


def test_file_edited_while_einlint_fixes_it_is_not_overwritten(project: Path, monkeypatch: pytest.MonkeyPatch, einlint) -> None:
    path = write(project / "model.py", FIXABLE)
    edited = FIXABLE + "y = 2  # typed by the user meanwhile\n"
    from einlint.engine import fixer

    fix_source = fixer.fix_source

    def fix_then_edit(*args, **kwargs):
        outcome = fix_source(*args, **kwargs)
        path.write_text(edited, encoding="utf-8")
        return outcome

    monkeypatch.setattr(fixer, "fix_source", fix_then_edit)
    run = einlint("--fix", "model.py")
    assert run.exit_code == 2
    assert error_lines(run.err, run.out) == {"model.py": "changed on disk while einlint ran; not rewritten"}
    assert path.read_text(encoding="utf-8") == edited


class BrokenFix(Rule):
    """Test-only: ``torch.einsum("ij->ji", x)`` -> a replacement that is not Python (a rule bug)."""

    code = "EIN991"
    name = "test-only-broken-fix"
    triggers = Triggers(names=frozenset({"einsum"}))
    replacement = "x.T)"

    def visit_Call(self, node) -> None:
        if self.context.qualified_name(node.func) == "torch.einsum" and '"ij->ji"' in self.context.unit.code_for(node):
            self.report(node, "an einsum that only transposes", FixProposal(node, self.replacement, Applicability.SAFE))


@pytest.mark.parametrize("replacement", ["x.T)", "x.T\0", "(" * 250 + "x" + ")" * 250], ids=["syntax-error", "nul", "too-deep"])
def test_fix_that_breaks_the_code_leaves_the_file_untouched(replacement: str, project: Path, monkeypatch: pytest.MonkeyPatch, add_rule, einlint) -> None:
    monkeypatch.setattr(BrokenFix, "replacement", replacement)
    add_rule(BrokenFix)
    # EIN006's fix on line 2 is fine and lands in the same round: the message must blame EIN991 only.
    original = FIXABLE + 'y = torch.einsum("ij->ji", torch.randn(2, 3))\n'
    broken = write(project / "src" / "broken.py", original)
    other = write(project / "src" / "other.py", FIXABLE)
    run = einlint("--fix", "src")
    assert run.exit_code == 2
    reasons = error_lines(run.err, run.out)
    assert list(reasons) == [os.path.join("src", "broken.py")]
    assert re.fullmatch(
        r"internal error: the fix of EIN991 produced code that does not parse \(.+\); file left unchanged",
        reasons[os.path.join("src", "broken.py")],
    )
    assert broken.read_text(encoding="utf-8") == original
    assert other.read_text(encoding="utf-8") == FIXED


# --- the same fixes whatever the line endings, BOM or encoding -----------------------------------------


def _fixed_outputs() -> list:
    cases = []
    for fixture in fixture_files():
        for expected, flags in ((fixture.with_suffix(".out.py"), ()), (fixture.with_suffix(".unsafe.out.py"), ("--unsafe-fixes",))):
            if expected.is_file():
                cases.append(pytest.param(fixture, expected, flags, id=f"{fixture.stem}{'-unsafe' if flags else ''}"))
    return cases


def _crlf(data: bytes) -> bytes:
    return data.replace(b"\n", b"\r\n")


def _latin1(data: bytes) -> bytes:
    return b"# -*- coding: latin-1 -*-\n# caf\xe9 cr\xe8me\n" + data.decode("utf-8").encode("latin-1")


VARIANTS = {"crlf": _crlf, "bom": lambda data: b"\xef\xbb\xbf" + data, "latin-1": _latin1}


@pytest.mark.parametrize("variant", sorted(VARIANTS))
@pytest.mark.parametrize(("fixture", "expected", "flags"), _fixed_outputs())
def test_fix_is_the_same_in_every_file_format(variant: str, fixture: Path, expected: Path, flags: tuple[str, ...], project: Path, einlint) -> None:
    transform = VARIANTS[variant]
    try:
        original = transform(fixture.read_bytes())
    except UnicodeEncodeError:
        pytest.skip("the fixture has characters latin-1 cannot encode")
    path = write(project / "case.py", original)
    run = einlint("--fix", *flags, "--select", fixture.stem, "case.py")
    assert error_lines(run.err, run.out) == {}
    assert path.read_bytes() == transform(expected.read_bytes())


@pytest.mark.parametrize(("fixture", "expected", "flags"), _fixed_outputs())
def test_fix_keeps_mixed_line_endings_of_untouched_lines(fixture: Path, expected: Path, flags: tuple[str, ...], project: Path, einlint) -> None:
    lines = fixture.read_bytes().splitlines(keepends=True)
    original = b"".join(line.replace(b"\n", b"\r\n") if index % 3 == 1 else line for index, line in enumerate(lines))
    path = write(project / "case.py", original)
    run = einlint("--fix", *flags, "--select", fixture.stem, "case.py")
    assert error_lines(run.err, run.out) == {}
    fixed = path.read_bytes()
    assert fixed.replace(b"\r\n", b"\n") == expected.read_bytes()
    before, after = original.splitlines(keepends=True), fixed.splitlines(keepends=True)
    strip = [line.rstrip(b"\r\n") for line in before], [line.rstrip(b"\r\n") for line in after]
    for block in difflib.SequenceMatcher(None, *strip, autojunk=False).get_matching_blocks():
        assert after[block.b : block.b + block.size] == before[block.a : block.a + block.size]


# --- round trip and idempotency over fixtures, examples and a corpus sample ----------------------------


def _corpus_sample() -> list[Path]:
    if not CORPUS.is_dir():
        return []
    files = sorted(path for path in CORPUS.rglob("*.py") if path.is_file())
    return random.Random(8).sample(files, min(CORPUS_SAMPLE_SIZE, len(files)))


TREES = [
    pytest.param("repository", id="fixtures-and-examples"),
    pytest.param("corpus", id="corpus-sample", marks=pytest.mark.skipif(not CORPUS.is_dir(), reason=f"no corpus at {CORPUS}")),
]


@pytest.mark.parametrize("tree", TREES)
def test_round_trip_and_idempotency(tree: str, tmp_path: Path, einlint) -> None:
    if tree == "repository":
        sources = {path: path.relative_to(REPOSITORY_ROOT) for root in (FIXTURES, EXAMPLES) for path in root.rglob("*.py")}
    else:
        sources = {path: path.relative_to(CORPUS) for path in _corpus_sample()}
    copy = tmp_path / "tree"
    for source, relative in sources.items():
        write(copy / relative, source.read_bytes())
    original = {path: path.read_bytes() for path in copy.rglob("*.py")}
    everything = ("--no-cache", "--select", ALL_CODES, "--unsafe-fixes")

    report = einlint(*everything, "--format", "json", str(copy))
    unprocessed = error_lines(report.err, report.out)
    with_fix = {Path(finding["path"]) for finding in json.loads(report.out) if finding["fix"]}

    first = einlint(*everything, "--fix", str(copy))
    assert error_lines(first.err, first.out) == unprocessed
    changed = {path for path, data in original.items() if path.read_bytes() != data}
    assert changed <= with_fix, "a file without an applicable fix was rewritten"
    assert not with_fix or changed, "no fix was applied at all"
    for path in changed:
        fixed = path.read_bytes()
        assert parses(fixed) or not parses(original[path]), f"{path} no longer parses"
        before = original[path]
        assert fixed.startswith(b"\xef\xbb\xbf") == before.startswith(b"\xef\xbb\xbf")
        if b"\r\n" not in before:
            assert b"\r\n" not in fixed
        elif b"\n" not in before.replace(b"\r\n", b""):
            assert b"\n" not in fixed.replace(b"\r\n", b"")
    after_first = {path: path.read_bytes() for path in original}

    second = einlint(*everything, "--fix", str(copy))
    assert error_lines(second.err, second.out) == unprocessed
    assert {path for path, data in after_first.items() if path.read_bytes() != data} == set(), "a second --fix changed files"
    assert "Fixed" not in second.out
    assert temporary_files(copy) == []


# --- real processes: concurrency and signals --------------------------------------------------------------


def _fixable_tree(root: Path, copies: int) -> dict[Path, bytes]:
    """``copies`` copies of every fixture (all rules' fixtures, fixed and unfixed) and of the examples."""
    sources = [path for base in (FIXTURES, EXAMPLES) for path in base.rglob("*.py")]
    for index in range(copies):
        for source in sources:
            write(root / f"copy{index:02d}" / source.parent.name / source.name, source.read_bytes())
    return {path: path.read_bytes() for path in root.rglob("*.py")}


def _fully_fixed(tmp_path: Path, copies: int, flags: list[str]) -> dict[Path, bytes]:
    reference = tmp_path / "reference"
    _fixable_tree(reference, copies)
    subprocess.run([*EINLINT, *flags, "reference"], cwd=tmp_path, capture_output=True, check=False, timeout=300)
    return {path.relative_to(reference): path.read_bytes() for path in reference.rglob("*.py")}


FIX_FLAGS = ["--no-cache", "--fix", "--unsafe-fixes", "--select", ALL_CODES, "-j", "2"]


def test_two_concurrent_fix_runs_never_corrupt_a_file(tmp_path: Path) -> None:
    copies = 6
    expected = _fully_fixed(tmp_path, copies, FIX_FLAGS)
    tree = tmp_path / "tree"
    original = _fixable_tree(tree, copies)
    assert any(expected[path.relative_to(tree)] != data for path, data in original.items())
    # Output goes to files: two runs writing into pipes that are read one after the other can block.
    logs = [(tmp_path / f"run{index}.out", tmp_path / f"run{index}.err") for index in range(2)]
    runs = []
    for out_path, err_path in logs:
        with open(out_path, "wb") as out, open(err_path, "wb") as err:
            runs.append(subprocess.Popen([*EINLINT, *FIX_FLAGS, "tree"], cwd=tmp_path, stdout=out, stderr=err))
    exit_codes = [run.wait(timeout=300) for run in runs]
    for exit_code, (out_path, err_path) in zip(exit_codes, logs):
        out, err = out_path.read_text(encoding="utf-8"), err_path.read_text(encoding="utf-8")
        assert exit_code in (0, 1, 2), err
        reasons = error_lines(err, out)
        assert set(reasons.values()) <= {"changed on disk while einlint ran; not rewritten"}, reasons
    for path, data in original.items():
        now = path.read_bytes()
        assert now in (data, expected[path.relative_to(tree)]), f"{path} is neither the original nor the fixed file"
        assert parses(now) or not parses(data)
    assert temporary_files(tree) == []


@pytest.mark.parametrize("signal_number", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_a_signal_mid_fix_leaves_every_file_original_or_fully_fixed(signal_number: int, tmp_path: Path) -> None:
    copies = 10
    expected = _fully_fixed(tmp_path, copies, FIX_FLAGS)
    tree = tmp_path / "tree"
    original = _fixable_tree(tree, copies)
    with open(tmp_path / "run.out", "wb") as out, open(tmp_path / "run.err", "wb") as err:
        process = subprocess.Popen([*EINLINT, *FIX_FLAGS, "tree"], cwd=tmp_path, stdout=out, stderr=err, start_new_session=True)
    deadline = time.monotonic() + 120
    # Signal the whole process group (as a terminal's Ctrl-C does) once the first file has been rewritten.
    while process.poll() is None and time.monotonic() < deadline:
        if any(path.read_bytes() != data for path, data in original.items()):
            os.killpg(process.pid, signal_number)
            break
        time.sleep(0.01)
    process.wait(timeout=120)
    out, err = (tmp_path / "run.out").read_text(encoding="utf-8"), (tmp_path / "run.err").read_text(encoding="utf-8")
    assert "Traceback" not in out + err
    if signal_number == signal.SIGINT and process.returncode == 130:
        assert err.strip().splitlines()[-1] == "einlint: interrupted"
    for path, data in original.items():
        now = path.read_bytes()
        assert now in (data, expected[path.relative_to(tree)]), f"{path} is neither the original nor the fixed file"
    if signal_number == signal.SIGINT:
        assert temporary_files(tree) == []
