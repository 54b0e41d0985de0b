"""Fuzzing the whole pipeline: mutated fixture files (tokens deleted, random unicode, deep nesting, very
long lines, NUL and stray bytes, odd line endings, truncation) must never crash einlint, nor
``einlint --verify`` over them.

Each example is linted and then fixed (every rule, unsafe fixes included) on a private copy. Whatever
the input: the exit code is 0, 1 or 2; stderr holds only ``PATH: error: REASON`` lines that name the
file; nothing prints a traceback or reports an internal error; and a file --fix rewrites still parses.
"""

from __future__ import annotations

import ast
import contextlib
import io
import json
import re
import tempfile
import tokenize
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import FIXTURES, REPOSITORY_ROOT
from einlint.cli import main
from einlint.rules import all_rules
from einlint.verify.verifier import VERDICTS

ALL_CODES = ",".join(rule.code for rule in all_rules())
ERROR_LINE = re.compile(r"(?P<path>[^\s:][^:]*): error: (?P<reason>\S.*)")
SEED_PATHS = sorted([*FIXTURES.rglob("*.py"), *(REPOSITORY_ROOT / "examples").rglob("*.py")])


def _token_spans(text: str) -> list[tuple[int, int]]:
    """Character ranges of the meaningful tokens of ``text``."""
    line_starts = [0]
    # The lines tokenize reads (split at "\n" only), not str.splitlines(), which also splits at form feeds.
    for line in io.StringIO(text).readlines():
        line_starts.append(line_starts[-1] + len(line))
    spans = []
    for token in tokenize.generate_tokens(io.StringIO(text).readline):
        if token.type in (tokenize.ENDMARKER, tokenize.NEWLINE, tokenize.NL, tokenize.INDENT, tokenize.DEDENT):
            continue
        start = line_starts[token.start[0] - 1] + token.start[1]
        end = line_starts[token.end[0] - 1] + token.end[1]
        if end > start:
            spans.append((start, end))
    return spans


SEEDS = [(path.read_text(encoding="utf-8"), _token_spans(path.read_text(encoding="utf-8"))) for path in SEED_PATHS]
NAME_TOKEN = re.compile(r"[A-Za-z_]\w*")
# (opening, closing) wrapped around a name, once per level of nesting.
WRAPPERS = [("(", ")"), ("[", "]"), ("{", "}"), ("f(", ")"), ("-", ""), ("not ", ""), ("(a @ ", ")")]
# Nested einsum calls are read from the file's text (depth 100: 0.4 s), but beyond about 150 levels
# libcst's position pass runs out of stack and einlint falls back to generating each operand's code,
# which is quadratic in the depth (depth 200: about 8 s): they are nested less deep here.
NESTED_EINSUM = ("torch.einsum('i->i', ", ")")
NESTED_EINSUM_MAX_DEPTH = 100
LONG_LINES = [
    lambda n: "x = '" + "a" * n + "'",
    lambda n: "# " + "einsum " * (n // 7),
    lambda n: "x = a" + " + a" * (n // 4),
    lambda n: "x = torch.einsum('" + "ab," * (n // 3) + "ab->ab', a)",
    lambda n: "x = [" + "a.transpose(0, 1), " * (n // 19) + "]",
]


@st.composite
def text_mutation(draw, text: str, spans: list[tuple[int, int]]) -> str:
    # Valid code reaches the rules, so the mutations that keep it valid come first (hypothesis favours
    # the start of a list) and twice.
    valid = ["nest", "long-line", "line-endings", "duplicate-lines", "unicode-in-comment"]
    kind = draw(st.sampled_from([*valid, *valid, "delete-token", "insert-unicode"]))
    if kind == "delete-token" and spans:
        start, end = spans[draw(st.integers(0, len(spans) - 1))]
        return text[:start] + text[end:]
    if kind == "insert-unicode":
        at = draw(st.integers(0, len(text)))
        # NUL is left to the byte mutations: hypothesis draws it so often that it would drown the rest.
        return text[:at] + draw(st.text(st.characters(blacklist_characters="\0"), min_size=1, max_size=8)) + text[at:]
    if kind == "unicode-in-comment":
        lines = text.splitlines(keepends=True)
        at = draw(st.integers(0, len(lines)))
        comment = draw(st.text(st.characters(blacklist_categories=("Cc", "Cs", "Zl", "Zp")), min_size=1, max_size=20))
        return "".join(lines[:at]) + "# " + comment + "\n" + "".join(lines[at:])
    if kind == "nest":
        names = [match.span() for match in NAME_TOKEN.finditer(text)]
        if names:
            start, end = names[draw(st.integers(0, len(names) - 1))]
            opening, closing = draw(st.sampled_from([*WRAPPERS, NESTED_EINSUM]))
            # Around the limits: libcst's recursion (~150 calls), the parser's 200 parentheses, ast's recursion.
            depth = draw(st.one_of(st.sampled_from([150, 180, 199, 200, 1_000, 5_000]), st.integers(1, 300)))
            if (opening, closing) == NESTED_EINSUM:
                depth = min(depth, NESTED_EINSUM_MAX_DEPTH)
            return text[:start] + opening * depth + text[start:end] + closing * depth + text[end:]
    if kind == "long-line":
        lines = text.splitlines(keepends=True)
        at = draw(st.integers(0, len(lines)))
        line = draw(st.sampled_from(LONG_LINES))(draw(st.integers(1_000, 50_000)))
        indent = draw(st.sampled_from(["", "    ", "\t"]))
        return "".join(lines[:at]) + indent + line + "\n" + "".join(lines[at:])
    if kind == "line-endings":
        ending = draw(st.sampled_from(["\r\n", "\r", "\x0c\n", "\u2028"]))
        lines = text.split("\n")
        chosen = draw(st.sets(st.integers(0, max(0, len(lines) - 2)), max_size=8))
        return "".join(line + (ending if index in chosen else "\n") for index, line in enumerate(lines[:-1])) + lines[-1]
    lines = text.splitlines(keepends=True)
    if lines:
        start = draw(st.integers(0, len(lines) - 1))
        end = draw(st.integers(start, min(len(lines), start + 10)))
        return "".join(lines[:end] + lines[start:end] + lines[end:])
    return text


@st.composite
def byte_mutation(draw, data: bytes) -> bytes:
    kind = draw(st.sampled_from(["surrogate", "random-bytes", "truncate", "bom", "nul"]))
    at = draw(st.integers(0, len(data)))
    if kind == "nul":
        return data[:at] + b"\0" + data[at:]
    if kind == "surrogate":
        # A lone surrogate encoded as if it were a character: invalid UTF-8 that "surrogatepass" would accept.
        return data[:at] + chr(draw(st.integers(0xD800, 0xDFFF))).encode("utf-8", "surrogatepass") + data[at:]
    if kind == "random-bytes":
        return data[:at] + bytes(draw(st.lists(st.integers(1, 255), min_size=1, max_size=6))) + data[at:]
    if kind == "truncate":
        return data[:at]
    return data[:at] + b"\xef\xbb\xbf" + data[at:]


@st.composite
def mutated_source(draw) -> bytes:
    text, spans = draw(st.sampled_from(SEEDS))
    # The token ranges are the seed's: after a first mutation they are approximate, which a fuzzer can afford.
    for _ in range(draw(st.integers(1, 3))):
        text = draw(text_mutation(text, spans))
    # Not every mutated text can be encoded (random text may hold lone surrogates): those become bytes too.
    data = text.encode("utf-8", "surrogatepass")
    if draw(st.sampled_from([False, False, False, True])):
        data = draw(byte_mutation(data))
    return data


def _einlint(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        exit_code = main(["--no-cache", "-j", "1", "--select", ALL_CODES, "--unsafe-fixes", *args])
    return exit_code, out.getvalue(), err.getvalue()


def _check_run(exit_code: int, out: str, err: str, path: Path) -> list[str]:
    """The reasons reported for ``path``, after checking that the run ended as a linter should."""
    assert exit_code in (0, 1, 2), (exit_code, err)
    assert "Traceback" not in out + err
    reasons = []
    for line in err.splitlines():
        match = ERROR_LINE.fullmatch(line)
        assert match, f"not a one-line error: {line!r}"
        assert match["path"] == str(path)
        reasons.append(match["reason"])
    assert len(reasons) <= 1, reasons
    assert not any("internal error" in reason for reason in reasons), reasons
    assert (exit_code == 2) == bool(reasons)
    return reasons


def _parses(data: bytes) -> bool:
    try:
        ast.parse(data)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return False
    return True


@settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.function_scoped_fixture],
)
@given(data=mutated_source())
def test_mutated_source_never_crashes_lint_or_fix(data: bytes) -> None:
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "case.py"
        path.write_bytes(data)
        lint_problems = _check_run(*_einlint(str(path)), path)
        fix_problems = _check_run(*_einlint("--fix", str(path)), path)
        fixed = path.read_bytes()
        if lint_problems:
            assert fixed == data, "--fix rewrote a file that could not be processed"
        elif fix_problems:
            assert fixed == data, "--fix rewrote a file and reported an error for it"
        elif fixed != data:
            assert _parses(fixed), "--fix wrote code that does not parse"
        assert [entry.name for entry in Path(directory).iterdir()] == ["case.py"]


# Each run starts the verifier's worker process (an import of torch, seconds): few examples, a few
# files each.
@settings(
    max_examples=2,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.function_scoped_fixture],
)
@given(files=st.lists(mutated_source(), min_size=1, max_size=3))
def test_verify_over_mutated_files_never_ends_in_a_traceback(files: list[bytes]) -> None:
    """The real ``einlint --verify`` (worker process included) over a few mutated files, at the tiny
    profile with the shortest timing: a verdict per fix or a one-line error, never a traceback."""
    pytest.importorskip("torch")
    from einlint.verify import command

    with tempfile.TemporaryDirectory() as directory, pytest.MonkeyPatch.context() as patch:
        patch.setattr(command, "CLI_PROFILES", ("tiny",))
        patch.setattr(command, "CLI_MIN_RUN_TIME", 0.001)
        patch.setenv("EINLINT_CACHE_DIR", str(Path(directory) / "cache"))
        sources = Path(directory) / "sources"
        sources.mkdir()
        for index, data in enumerate(files):
            (sources / f"case{index}.py").write_bytes(data)
        exit_code, out, err = _einlint("--verify", "--device", "cpu", "--format", "json", str(sources))
        assert exit_code in (0, 1, 2), (exit_code, err)
        assert "Traceback" not in out + err
        assert "internal error" not in out + err, err
        for line in err.splitlines():
            match = ERROR_LINE.fullmatch(line)
            assert match and match["path"].startswith(str(sources)), f"not a one-line error about a file: {line!r}"
        if exit_code != 2:
            assert {fix["verdict"] for fix in json.loads(out)["fixes"]} <= set(VERDICTS)
        assert sorted(path.read_bytes() for path in sources.iterdir()) == sorted(files), "--verify alone wrote a file"
