"""``# noqa`` handling, with flake8's exact semantics so the CLI and the plugin agree: the comment must
stand on the finding's physical line (or on a line of a multi-line token through it, such as a
triple-quoted string), a bare ``# noqa`` silences everything, and a code list silences codes equal to or
starting with a listed code.

A line of its own reading ``# einlint: noqa`` silences the whole file, and ``# einlint: noqa: EIN0,
EIN101`` the listed codes (and the codes they prefix) in the whole file, in the CLI and the plugin.

``--add-noqa`` writes the line-level comments that silence every finding a run reports, so a large code
base can start at zero findings and remove them one by one.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from einlint.diagnostics import Diagnostic, FileError
from einlint.engine.source import SourceError, SourceText

NOQA = re.compile(r"# noqa(?::[\s]?(?P<codes>([A-Z]+[0-9]+(?:[,\s]+)?)+))?", re.IGNORECASE)
FILE_NOQA = re.compile(
    r"^[ \t]*#[ \t]*einlint:[ \t]*noqa(?:[ \t]*:[ \t]*(?P<codes>[A-Z]+[0-9]*(?:[ \t]*,[ \t]*[A-Z]+[0-9]*)*))?[ \t]*,?[ \t]*$", re.IGNORECASE | re.MULTILINE
)
_CODES = re.compile(r"[,\s]+")


@dataclass(frozen=True)
class FileExemption:
    everything: bool = False
    codes: tuple[str, ...] = ()

    def covers(self, code: str) -> bool:
        return self.everything or (bool(self.codes) and code.startswith(self.codes))


def file_exemption(text: str) -> FileExemption:
    """The file-level ``# einlint: noqa`` directives of a source text."""
    if "einlint" not in text:
        return FileExemption()
    codes: list[str] = []
    for match in FILE_NOQA.finditer(text):
        if match.group("codes") is None:
            return FileExemption(everything=True)
        codes.extend(code.upper() for code in _CODES.split(match.group("codes")) if code)
    return FileExemption(codes=tuple(codes))


def _file_exemption_of(source: SourceText) -> FileExemption:
    cached = source.__dict__.get("_file_exemption")
    if cached is None:
        cached = file_exemption(source.text)
        source.__dict__["_file_exemption"] = cached
    return cached


def is_suppressed(diagnostic: Diagnostic, source: SourceText) -> bool:
    if _file_exemption_of(source).covers(diagnostic.code):
        return True
    first, last = diagnostic.noqa_lines if diagnostic.noqa_lines[0] else (diagnostic.line, diagnostic.line)
    text = "\n".join(source.line_text(line) for line in range(first, min(last, len(source.line_starts)) + 1))
    if "noqa" not in text.lower():
        return False
    match = NOQA.search(text)
    if match is None:
        return False
    codes = match.group("codes")
    if codes is None:
        return True
    listed = {code for code in re.split(r"[,\s]+", codes) if code}
    return diagnostic.code in listed or diagnostic.code.startswith(tuple(listed))


@dataclass
class AddNoqaOutcome:
    added: int = 0
    errors: list[FileError] = field(default_factory=list)


def noqa_edits(source: SourceText, diagnostics: Iterable[Diagnostic]) -> tuple[dict[int, str], list[str]]:
    """The new text of each line that gets (or extends) a ``# noqa: CODES`` comment, and a reason for
    each finding whose line cannot carry one (a line continued with a backslash)."""
    codes_by_line: dict[int, set[str]] = {}
    for diagnostic in diagnostics:
        line = diagnostic.noqa_lines[1] if diagnostic.noqa_lines[0] else diagnostic.line
        codes_by_line.setdefault(line, set()).add(diagnostic.code)
    new_lines: dict[int, str] = {}
    problems: list[str] = []
    for line, codes in sorted(codes_by_line.items()):
        text = source.line_text(line)
        if text.rstrip().endswith("\\"):
            problems.append(f"line {line} ends with a backslash; no noqa comment added for {', '.join(sorted(codes))}")
            continue
        match = NOQA.search(text)
        if match is not None and match.group("codes") is None:
            continue  # a bare noqa already silences everything
        if match is not None:
            listed = [code for code in _CODES.split(match.group("codes")) if code]
            merged = listed + sorted(codes - {code.upper() for code in listed})
            new_lines[line] = text[: match.start()] + "# noqa: " + ", ".join(merged) + text[match.end() :].rstrip(", ")
        else:
            new_lines[line] = text.rstrip() + "  # noqa: " + ", ".join(sorted(codes))
    return new_lines, problems


def add_noqa_directives(reports: Iterable) -> AddNoqaOutcome:
    """Write ``# noqa: CODES`` on every line where a report has findings (Python files only)."""
    from einlint.engine.fixer import write_atomically

    outcome = AddNoqaOutcome()
    for report in reports:
        if not report.diagnostics or report.errors:
            continue
        path = report.path
        if path.endswith(".ipynb"):
            outcome.errors.append(FileError(path, "--add-noqa does not edit notebooks; not changed"))
            continue
        try:
            with open(path, "rb") as handle:
                data = handle.read()
            source = SourceText.from_bytes(path, data)
        except (OSError, SourceError) as error:
            outcome.errors.append(FileError(path, f"cannot read: {getattr(error, 'strerror', None) or error}"))
            continue
        new_lines, problems = noqa_edits(source, report.diagnostics)
        outcome.errors.extend(FileError(path, problem) for problem in problems)
        if not new_lines:
            continue
        pieces = []
        for number in range(1, len(source.line_starts) + 1):
            start = source.line_starts[number - 1]
            end = source.line_starts[number] if number < len(source.line_starts) else len(source.text)
            original = source.text[start:end]
            if number in new_lines:
                ending = original[len(original.rstrip("\r\n")) :]
                pieces.append(new_lines[number] + ending)
            else:
                pieces.append(original)
        problem = write_atomically(path, source.encode("".join(pieces)), data)
        if problem:
            outcome.errors.append(FileError(path, problem))
        else:
            outcome.added += sum(1 for _ in new_lines)
    return outcome
