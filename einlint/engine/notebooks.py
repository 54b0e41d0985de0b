"""Jupyter notebooks: their code cells as one Python source (so an import in one cell resolves names in
the next), the way back from a line of that source to a cell and a line in it, and the way back from
fixed source to a notebook whose outputs, metadata and every other cell are as they were.

IPython syntax is masked, never parsed: a line magic (``%time f()``), a shell line (``!pip ...``), an
assignment from either (``files = !ls``) and a help line (``obj?``) become ``pass`` at the same
indentation, so the lines around them keep their positions and a block stays a block; a cell starting
with a cell magic (``%%bash``) is left out entirely. A fix never touches a masked line; they are put
back as they were.
"""

from __future__ import annotations

import bisect
import json
import re
from dataclasses import dataclass

# Cells are joined with this line between them, so that fixed source can be cut back into cells.
CELL_BOUNDARY = "# einlint: notebook cell boundary"
_MASK = "pass  # einlint: masked IPython line {}"
_MASKED = re.compile(r"^([ \t]*)pass  # einlint: masked IPython line (\d+)$")
_IPYTHON_LINE = re.compile(r"^[ \t]*(?:[%!](?!=)|[\w.]+[ \t]*=[ \t]*[%!](?!=))|^[^#'\"]*\?\??[ \t]*$")


class NotebookError(Exception):
    """The file is not a notebook einlint can read; the message is one line for the user."""


@dataclass(frozen=True)
class CodeCell:
    index: int  # 0-based position among all the notebook's cells
    lines: tuple[str, ...]  # the cell's source lines, each with its line ending (the last may have none)
    first_line: int  # the line of the joined source where the cell's first line is (1-based)


@dataclass
class Notebook:
    document: dict
    cells: list[CodeCell]
    python: str  # the code cells joined, IPython syntax masked
    masked: list[str]  # the original text of each masked line, by its number in the mask
    indent: int | None  # the JSON indentation the file was written with
    final_newline: bool

    def locate(self, line: int) -> tuple[int, int]:
        """(1-based cell number among all cells, 1-based line in the cell) of a joined-source line."""
        starts = [cell.first_line for cell in self.cells]
        position = max(0, bisect.bisect_right(starts, line) - 1)
        cell = self.cells[position]
        return cell.index + 1, line - cell.first_line + 1


def _source_lines(cell: dict) -> list[str]:
    source = cell.get("source", "")
    text = "".join(source) if isinstance(source, list) else source
    if not isinstance(text, str):
        raise NotebookError("a cell's source is neither a string nor a list of strings")
    return text.splitlines(keepends=True)


def _indentation(data: bytes) -> int | None:
    match = re.match(rb"\{\s*?\n( *)\"", data)
    return len(match.group(1)) if match else None


def parse_notebook(data: bytes) -> Notebook:
    try:
        document = json.loads(data.decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError) as error:
        raise NotebookError(f"not a readable notebook (invalid JSON: {str(error).splitlines()[0]})") from None
    if not isinstance(document, dict) or not isinstance(document.get("cells"), list):
        raise NotebookError("not a Jupyter notebook (no list of cells)")
    pieces: list[str] = []
    cells: list[CodeCell] = []
    masked: list[str] = []
    line = 1
    for index, cell in enumerate(document["cells"]):
        if not isinstance(cell, dict) or cell.get("cell_type") != "code":
            continue
        lines = _source_lines(cell)
        if lines and lines[0].lstrip().startswith("%%"):
            continue
        pieces.append(CELL_BOUNDARY + "\n")
        line += 1
        cells.append(CodeCell(index, tuple(lines), line))
        for text in lines:
            if _IPYTHON_LINE.match(text.rstrip("\r\n")):
                indent = text[: len(text) - len(text.lstrip(" \t"))]
                pieces.append(indent + _MASK.format(len(masked)) + "\n")
                masked.append(text)
            else:
                pieces.append(text if text.endswith(("\n", "\r")) else text + "\n")
        line += len(lines)
    return Notebook(document, cells, "".join(pieces), masked, _indentation(data), data.endswith(b"\n"))


def with_python(notebook: Notebook, python: str) -> bytes:
    """The notebook with its code cells replaced by the cells of ``python`` (the joined source after
    fixes); outputs, metadata and every other cell are kept."""
    chunks = python.split(CELL_BOUNDARY + "\n")[1:]
    if len(chunks) != len(notebook.cells):
        raise NotebookError("a fix moved a cell boundary; notebook left unchanged")
    cells = notebook.document["cells"]
    for cell, chunk in zip(notebook.cells, chunks):
        lines = chunk.splitlines(keepends=True)
        restored = []
        for text in lines:
            match = _MASKED.match(text.rstrip("\r\n"))
            restored.append(notebook.masked[int(match.group(2))] if match else text)
        if cell.lines and not cell.lines[-1].endswith(("\n", "\r")) and restored and restored[-1].endswith("\n"):
            # The cell's last line had no line ending; the joined source gave it one.
            restored[-1] = restored[-1][:-1]
        original = cells[cell.index].get("source", "")
        if tuple(restored) == cell.lines:
            continue
        cells[cell.index]["source"] = restored if isinstance(original, list) else "".join(restored)
    text = json.dumps(notebook.document, indent=notebook.indent, ensure_ascii=False)
    return (text + ("\n" if notebook.final_newline else "")).encode("utf-8")
