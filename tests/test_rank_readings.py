"""Products summed whose operands' ranks only the indexing suggests (``(a[:, :, None] * b[:, None,
:]).sum(0)``) are reported, never fixed, with the ranks read and the einsum they amount to. Here that
einsum is run against the original on real tensors of the ranks the message names: the reading the
message states must be exact. A rank other than the one read makes the original compute something
else (broadcasting aligns from the right), which is why there is no fix."""

from __future__ import annotations

import re

import pytest

torch = pytest.importorskip("torch")

from conftest import FIXTURES  # noqa: E402
from einlint.config import Settings  # noqa: E402
from einlint.engine.runner import RuleSet, lint_source  # noqa: E402
from einlint.engine.source import SourceText  # noqa: E402

READING = re.compile(r"torch\.einsum\(\"([^\"]+)\", (\w+), (\w+)\).*\[no fix: the ranks are not proven: (.*); so read, it sums (.*)\]$")
CODES = ("EIN103", "EIN111")


def _readings() -> list[tuple[str, str, str, tuple[str, str]]]:
    """(where, original expression, equation, operand names) for every finding read from indexing."""
    found = []
    for code in CODES:
        path = FIXTURES / "rewrite" / f"{code}.py"
        text = path.read_text(encoding="utf-8")
        settings = Settings(select=(code,))
        lines = text.splitlines()
        for diagnostic in lint_source(SourceText.from_bytes(str(path), text.encode()), settings, RuleSet.for_settings(settings)).diagnostics:
            match = READING.search(diagnostic.message)
            if match is None:
                continue
            assert diagnostic.fix is None, diagnostic.message
            assert diagnostic.line == diagnostic.end_line
            original = lines[diagnostic.line - 1][diagnostic.col : diagnostic.end_col]  # 0-based columns
            found.append((f"{code}:{diagnostic.line}", original, match.group(1), (match.group(2), match.group(3))))
    return found


READINGS = _readings()


def test_the_fixtures_hold_readings() -> None:
    assert len(READINGS) >= 3, READINGS


def _tensors(equation: str, names: tuple[str, str], extra: int) -> dict[str, torch.Tensor]:
    """One float64 tensor per term, every label its own size; an ellipsis stands for ``extra`` dims."""
    sizes: dict[str, int] = {}
    terms = equation.split("->")[0].split(",")
    batch = [7, 8][:extra]
    tensors = {}
    for name, term in zip(names, terms, strict=True):
        shape = [*batch] if term.startswith("...") else []
        for letter in term.removeprefix("..."):
            shape.append(sizes.setdefault(letter, 2 + len(sizes)))
        tensors[name] = torch.randn(*shape, dtype=torch.float64)
    return tensors


@pytest.mark.parametrize("where, original, equation, names", READINGS, ids=[reading[0] for reading in READINGS])
@pytest.mark.parametrize("extra", [0, 1, 2])
def test_reading_is_the_einsum(where: str, original: str, equation: str, names: tuple[str, str], extra: int) -> None:
    if extra and "..." not in equation:
        pytest.skip("no dimensions beyond those read")
    tensors = _tensors(equation, names, extra)
    expected = eval(original, {"torch": torch}, dict(tensors))  # noqa: S307 - a fixture line
    got = torch.einsum(equation, *tensors.values())
    assert got.shape == expected.shape
    torch.testing.assert_close(got, expected, rtol=1e-12, atol=1e-12)


def test_another_rank_reads_other_dimensions() -> None:
    """Why no fix: with a 3-D ``a`` the same code pairs other dimensions (or raises)."""
    a, b = torch.randn(3, 4, 5, dtype=torch.float64), torch.randn(4, 5, dtype=torch.float64)
    original = (a[:, :, None] * b[:, None, :]).sum(0)
    with pytest.raises(RuntimeError):
        torch.einsum("di,dj->ij", a, b)
    assert original.shape == (4, 1, 5)  # not the (4, 4) of the 2-D reading
