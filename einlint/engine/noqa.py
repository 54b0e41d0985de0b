"""``# noqa`` handling, with flake8's exact semantics so the CLI and the plugin agree: the comment must
stand on the finding's physical line (or on a line of a multi-line token through it, such as a
triple-quoted string), a bare ``# noqa`` silences everything, and a code list silences codes equal to or
starting with a listed code."""

from __future__ import annotations

import re

from einlint.diagnostics import Diagnostic
from einlint.engine.source import SourceText

NOQA = re.compile(r"# noqa(?::[\s]?(?P<codes>([A-Z]+[0-9]+(?:[,\s]+)?)+))?", re.IGNORECASE)


def is_suppressed(diagnostic: Diagnostic, source: SourceText) -> bool:
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
