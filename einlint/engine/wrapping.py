"""A fix's replacement wrapped to the project's line length: a one-line call that would make its line
longer than the limit gets its arguments on an indented line of their own (or one per line, with a
trailing comma, when even that is too long), the way Black and Ruff's formatter lay out a call. A
replacement that fits is left on one line; one that cannot be wrapped (no call, or inside an f-string,
where a line break is a syntax error before Python 3.12) is left as it is, and so is a line that was
already over the limit and that the fix does not lengthen."""

from __future__ import annotations

import ast

from einlint.engine.source import SourceText

# The wrapped arguments are indented this much past the line's own indentation.
INDENT = "    "


def wrapped(replacement: str, source: SourceText, start: int, end: int, line_length: int) -> str:
    """``replacement`` for the characters ``[start, end)`` of ``source``, wrapped when the line it
    lands on would exceed ``line_length`` characters."""
    if "\n" in replacement or "\r" in replacement:
        return replacement
    first_line, last_line = source.line_of(start), source.line_of(end)
    prefix = source.text[source.line_starts[first_line - 1] : start]
    suffix = source.text[end : source.line_starts[last_line - 1] + len(source.line_text(last_line))]
    new_length = len(prefix) + len(replacement) + len(suffix)
    # A line already over the limit that the fix does not lengthen is left as the project wrote it.
    old_length = len(source.line_text(first_line)) if first_line == last_line else 0
    if new_length <= line_length or new_length <= old_length:
        return replacement
    call = _widest_call(replacement)
    if call is None:
        return replacement
    opening, closing, arguments = call
    indent = prefix[: len(prefix) - len(prefix.lstrip(" \t"))]
    newline = source.newline
    one_line = indent + INDENT + ", ".join(arguments)
    if len(one_line) <= line_length:
        body = one_line + newline
    else:
        body = "".join(f"{indent}{INDENT}{argument},{newline}" for argument in arguments)
    return replacement[: opening + 1] + newline + body + indent + replacement[closing:]


def _widest_call(text: str) -> tuple[int, int, list[str]] | None:
    """The call in ``text`` with the longest argument list: the offsets of its parentheses and the
    text of each argument, in source order."""
    try:
        tree = ast.parse(text, mode="eval")
    except (SyntaxError, ValueError, RecursionError):
        return None
    best: tuple[int, int, list[str]] | None = None
    best_width = -1
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        parts = sorted([*node.args, *node.keywords], key=lambda part: (part.lineno, part.col_offset))
        if not parts:
            continue
        first, last = _char(text, parts[0].col_offset), _char(text, parts[-1].end_col_offset or 0)
        closing = _char(text, node.end_col_offset or 0) - 1
        opening = text.find("(", _char(text, node.func.end_col_offset or 0))
        if opening < 0 or text[closing] != ")" or text[opening + 1 : first].strip() or text[last:closing].strip(", "):
            continue  # a comment or odd spacing between the parentheses: leave the call as written
        if last - first > best_width:
            best_width = last - first
            best = (opening, closing, [_segment(text, part) for part in parts])
    return best


def _char(text: str, utf8_offset: int) -> int:
    if text.isascii():
        return utf8_offset
    return len(text.encode("utf-8")[:utf8_offset].decode("utf-8", errors="ignore"))


def _segment(text: str, node: ast.AST) -> str:
    return text[_char(text, node.col_offset) : _char(text, node.end_col_offset or 0)]
