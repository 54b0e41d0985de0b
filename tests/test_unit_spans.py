"""Where a unit's nodes sit in the file: the engine counts characters during one code generation
instead of asking libcst's PositionProvider; both must agree on every node of every unit, in the
fixtures, the soundness cases and awkward text (CRLF and CR line endings, non-ASCII, multi-line
statements and header expressions, tabs, line endings mixed inside one statement)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from libcst.metadata import MetadataWrapper, PositionProvider

from einlint.engine.candidates import find_candidates
from einlint.engine.source import SourceText
from einlint.engine.units import Unit

ROOT = Path(__file__).resolve().parent.parent
FILES = sorted([*ROOT.glob("fixtures/*/*.py"), *ROOT.glob("tests/soundness/cases/*.py")])

AWKWARD = {
    "crlf": "import torch\r\ndef f(a, b):\r\n    x = torch.einsum(\r\n        'ij,jk->ik', a, b)  # é\r\n    return x\r\n",
    "cr": "import torch\rdef f(a, b):\r    x = (a\r         @ b).sum(0)\r    return x\r",
    "non-ascii": "import torch\ndef f(a, b):\n    é = 'ü'; x = torch.einsum('ij,jk->ik', a, b)  # ü\n    return x\n",
    "headers": "import torch\ndef f(a, b):\n    if (a @\n            b).sum() > 0:\n        pass\n    for x in torch.einsum(\n            'ij->ji', a):\n        pass\n",
    "mixed-crlf-in-lf": "import torch\ndef f(a, b):\n    x = torch.einsum(\r\n        'ij,jk->ik',\n        a, b)\r\n    return x\n",
    "mixed-lf-in-crlf": "import torch\r\ndef f(a, b):\r\n    x = torch.einsum(\n        'ij,jk->ik',\r\n        a, b.permute(1, 0))\r\n    y = a @ b\r\n",
    "lone-cr-in-lf": "import torch\ndef f(a, b):\n    x = torch.einsum(\r        'ij,jk->ik',\n        a, b)\n    return x\n",
    "tabs-and-continuation": "import torch\ndef f(a, b):\n\tx = a @ \\\n\t\tb.t()\n\treturn x\n",
}


def _libcst_offsets(unit: Unit, source: SourceText) -> dict:
    """Each node's range from PositionProvider, turned into file offsets the way the engine used to."""
    positions = MetadataWrapper(unit.module, unsafe_skip_copy=True).resolve(PositionProvider)
    found = {}
    for node, code_range in positions.items():
        ends = []
        for line, column in ((code_range.start.line, code_range.start.column), (code_range.end.line, code_range.end.column)):
            file_line = unit.start_line + line - 1
            if file_line > len(source.line_starts):
                break  # past the end of the file: the unit's own closing newline
            ends.append(source.offset(file_line, unit.start_col + column if line == 1 else column))
        if len(ends) == 2:
            found[node] = tuple(ends)
    return found


def _check(source: SourceText) -> int:
    tree = ast.parse(source.text)
    every_line = list(range(1, len(source.line_starts) + 1))
    compared = 0
    for candidate in find_candidates(tree, every_line, lambda words: True):
        unit = Unit.parse(candidate, source)
        if unit is None:
            continue
        expected = _libcst_offsets(unit, source)
        text_end = unit.start_offset + len(unit.module.code) - len(unit.module.default_newline)
        for node, span in expected.items():
            if node is unit.module or unit.span(node)[1] > text_end:
                # The newline libcst adds after the unit is not the file's: it may stand where the
                # file has a comment or another line ending. No rule asks where it is.
                continue
            assert unit.span(node) == span, (type(node).__name__, unit.code_for(node))
            compared += 1
    return compared


@pytest.mark.parametrize("path", FILES, ids=lambda path: f"{path.parent.name}/{path.name}")
def test_spans_match_libcst_positions_in_corpus_files(path: Path) -> None:
    source = SourceText.from_bytes(str(path), path.read_bytes())
    _check(source)


@pytest.mark.parametrize("text", list(AWKWARD.values()), ids=list(AWKWARD))
def test_spans_match_libcst_positions_in_awkward_text(text: str) -> None:
    assert _check(SourceText("t.py", text)) > 10
