"""A source file as einlint sees it: the exact bytes, the decoded text and a line table.

The text keeps the file's own line endings (CRLF, CR, LF, mixed) so that edits spliced into it leave
every untouched byte identical once encoded back.
"""

from __future__ import annotations

import bisect
import codecs
import io
import re
import tokenize
from dataclasses import dataclass, field
from functools import cached_property

LINE_BREAK = re.compile(r"\r\n|\r|\n")  # where ast and einlint count a new line


class SourceError(Exception):
    """The file cannot be treated as Python source text; the message is one line for the user."""


@dataclass
class SourceText:
    path: str
    text: str
    encoding: str = "utf-8"
    bom: bool = False
    line_starts: list[int] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not self.line_starts:
            self.line_starts = [0] + [match.end() for match in LINE_BREAK.finditer(self.text)]

    @classmethod
    def from_bytes(cls, path: str, data: bytes) -> SourceText:
        try:
            encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
        except SyntaxError as error:
            raise SourceError(f"cannot determine the encoding: {error.msg if hasattr(error, 'msg') else error}") from None
        bom = data.startswith(codecs.BOM_UTF8)
        if bom:
            encoding = "utf-8"
            data = data[len(codecs.BOM_UTF8) :]
        try:
            text = data.decode(encoding)
        except (UnicodeDecodeError, LookupError) as error:
            detail = f"byte {error.start}" if isinstance(error, UnicodeDecodeError) else str(error)
            raise SourceError(f"not valid {encoding} text ({detail})") from None
        if "\0" in text:
            raise SourceError("contains NUL bytes (not a text file)")
        return cls(path, text, encoding, bom)

    def encode(self, text: str) -> bytes:
        data = text.encode(self.encoding)
        return codecs.BOM_UTF8 + data if self.bom else data

    @cached_property
    def newline(self) -> str:
        """The file's dominant line ending, for code that a fix adds on new lines. Cached: every unit
        asks, and counting over a large file once per unit made linting it quadratic."""
        crlf = self.text.count("\r\n")
        return "\r\n" if crlf and crlf * 2 >= self.text.count("\n") else "\n"

    def line_text(self, line: int) -> str:
        """Line ``line`` (1-based) without its line ending."""
        start = self.line_starts[line - 1]
        end = self.line_starts[line] if line < len(self.line_starts) else len(self.text)
        return self.text[start:end].rstrip("\r\n")

    def char_col(self, line: int, utf8_col: int) -> int:
        """Convert an ``ast`` column (UTF-8 bytes into the line) to a character column."""
        text = self.line_text(line)
        if text.isascii():
            return utf8_col
        return len(text.encode("utf-8")[:utf8_col].decode("utf-8", errors="ignore"))

    def offset(self, line: int, char_col: int) -> int:
        return self.line_starts[line - 1] + char_col

    def position(self, offset: int) -> tuple[int, int]:
        """(1-based line, 0-based character column) of a character offset."""
        line = bisect.bisect_right(self.line_starts, offset)
        return line, offset - self.line_starts[line - 1]

    def line_of(self, offset: int) -> int:
        return bisect.bisect_right(self.line_starts, offset)
