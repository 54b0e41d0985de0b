"""Text from the user's files (paths, expressions, reasons that quote them) made inert at each of the
verifier's output boundaries: the terminal and Markdown (rich tables take ``rich.text.Text`` cells,
which are never read as markup).

Control and format characters (ESC, carriage returns, bidirectional overrides) are shown as escapes,
never written raw, so that no source text can move the cursor, recolour the terminal or reorder what a
reader sees. Markdown gets code spans whose backtick fence is longer than any run inside them, and
table cells where ``|`` cannot end the cell."""

from __future__ import annotations

import re
import unicodedata

# Markdown's punctuation that can start markup in running text: escaped with a backslash.
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]#!|<>~&])")


def printable(text: str) -> str:
    """``text`` on one line with every control or format character (Unicode categories Cc and Cf:
    ESC, newlines, U+202E ...) written as a Python-style escape."""
    return "".join(_escape_character(character) for character in text)


def _escape_character(character: str) -> str:
    if unicodedata.category(character) not in ("Cc", "Cf"):
        return character
    code = ord(character)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def markdown_text(text: str) -> str:
    """Running Markdown text that renders as ``text`` and nothing more: no emphasis, links, HTML."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", printable(text))


def markdown_code(text: str) -> str:
    """An inline code span that holds ``text`` whatever backticks it contains: the fence is one
    backtick longer than the longest run inside, and a space pads each side where a backtick (or a
    space that would be stripped) starts or ends the content, as CommonMark strips one such pair."""
    content = printable(text)
    longest = max((len(run) for run in re.findall(r"`+", content)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if content[:1] == "`" or content[-1:] == "`" or (content[:1] == " " and content[-1:] == " ") else ""
    return f"{fence}{pad}{content}{pad}{fence}"


def markdown_cell(text: str, code: bool = False) -> str:
    """A table cell: ``|`` is escaped even inside a code span (table rows are split on it first)."""
    cell = markdown_code(text) if code else markdown_text(text)
    return cell.replace("|", "\\|") if code else cell
