"""A fix may read an imported name (``torch``, ``matmul``) only where that name provably holds what the
import says when the line runs, and a rule may treat a call as torch's only then. Each program below
is fixed (safe and unsafe tiers) and run, original against fixed, through its ``run()``: the fixed
module must compute the same value or raise the same exception type."""

from __future__ import annotations

import textwrap

import pytest

torch = pytest.importorskip("torch")

from einlint.config import Settings  # noqa: E402
from einlint.engine.fixer import fix_source  # noqa: E402
from einlint.engine.runner import RuleSet  # noqa: E402
from einlint.engine.source import SourceText  # noqa: E402

# EIN104 is opt-in; the programs below transpose the last two dimensions, which it rewrites.
SELECT = ("EIN1", "EIN101", "EIN102", "EIN103", "EIN104", "EIN111", "EIN121", "EIN2", "EIN3")

# name -> (program, whether some fix must still be applied under --unsafe-fixes)
PROGRAMS = {
    "module def rebinds an imported matmul": (
        """
        import torch
        from torch import matmul

        def matmul(a, b):
            return a + b.sum()

        def f(a, b):
            return matmul(a, b.transpose(1, 2).transpose(0, 1))

        def run():
            return f(torch.ones(2, 3, 3), torch.ones(2, 3, 3))
        """,
        False,
    ),
    "module assignment rebinds an imported bmm": (
        """
        import torch
        from torch import bmm
        bmm = lambda a, b: a - b

        def run():
            a = torch.randn(2, 3, 3)
            b = torch.randn(2, 3, 3)
            return bmm(a, b.permute(0, 2, 1))
        """,
        False,
    ),
    "default argument injection of mm": (
        """
        import torch

        def make(mm=torch.mm):
            def inner(a, b):
                return mm(a, b.permute(1, 0))
            return inner

        def run():
            return make(lambda a, b: a * 2)(torch.ones(3, 3), torch.ones(3, 3))
        """,
        False,
    ),
    "comprehension variable named torch": (
        """
        import torch
        import types

        fake = types.SimpleNamespace(bmm=lambda a, b: a + 1, einsum=None)

        def run():
            a = torch.ones(2, 3, 3)
            b = torch.ones(2, 3, 3)
            return [torch.bmm(a, b.permute(0, 2, 1)) for torch in (fake,)][0]
        """,
        False,
    ),
    "lambda parameter named torch": (
        """
        import torch
        import types

        fake = types.SimpleNamespace(bmm=lambda a, b: a + 1, einsum=None)

        def run():
            a = torch.ones(2, 3, 3)
            b = torch.ones(2, 3, 3)
            return (lambda torch: torch.bmm(a, b.permute(0, 2, 1)))(fake)
        """,
        False,
    ),
    "a later local import makes torch local": (
        """
        import torch

        def f():
            a = torch.ones(2, 3, 3)
            b = torch.ones(2, 3, 3)
            return a

        def g(a, b):
            y = a @ b.permute(0, 2, 1)
            import torch.nn.functional
            return y

        def run():
            return g(torch.ones(2, 3, 3), torch.ones(2, 3, 3))
        """,
        False,
    ),
    "TYPE_CHECKING-only import": (
        """
        from typing import TYPE_CHECKING
        if TYPE_CHECKING:
            import torch
        import torch as real

        def g(a, b):
            return a @ b.permute(0, 2, 1)

        def run():
            return g(real.ones(2, 3, 3), real.ones(2, 3, 3))
        """,
        True,
    ),
    "del of the module name": (
        """
        import torch
        T = torch

        def g(a, b):
            return a @ b.permute(0, 2, 1)

        del torch

        def run():
            return g(T.ones(2, 3, 3), T.ones(2, 3, 3))
        """,
        False,
    ),
    "star import after the import": (
        """
        import torch
        from torch import bmm
        from types import *

        def run():
            a = torch.randn(2, 3, 3)
            b = torch.randn(2, 3, 3)
            return bmm(a, b.permute(0, 2, 1))
        """,
        False,
    ),
    "global statement rebinds the module name": (
        """
        import torch
        import types

        def spoil():
            global torch
            torch = types.SimpleNamespace(einsum=None, bmm=lambda a, b: a)

        def g(a, b):
            return torch.bmm(a, b.permute(0, 2, 1))

        def run():
            a = torch.ones(2, 3, 3)
            spoil()
            return g(a, a)
        """,
        False,
    ),
    "nonlocal rebinding in a nested function": (
        """
        import torch

        def outer(a, b):
            mm = torch.mm
            def swap():
                nonlocal mm
                mm = lambda x, y: x
            swap()
            return mm(a, b.permute(1, 0))

        def run():
            return outer(torch.ones(3, 3), torch.ones(3, 3))
        """,
        False,
    ),
    "conditional import of torch": (
        """
        try:
            import torch
        except ImportError:
            pass
        import torch as real

        def g(a, b):
            return a @ b.permute(0, 2, 1)

        def run():
            return g(real.ones(2, 3, 3), real.ones(2, 3, 3))
        """,
        True,
    ),
    "a local import before the use is fine": (
        """
        def g(a, b):
            import torch
            return torch.bmm(torch.ones(2, 3, 3), torch.ones(2, 3, 3).permute(0, 2, 1))

        def run():
            return g(None, None)
        """,
        True,
    ),
}


def _fixed(text: str, unsafe: bool) -> str:
    settings = Settings(select=SELECT)
    source = SourceText.from_bytes("program.py", text.encode("utf-8"))
    outcome = fix_source(source, settings, RuleSet.for_settings(settings), unsafe_fixes=unsafe)
    assert outcome.error is None, outcome.error
    return outcome.text


def _outcome(text: str):
    namespace: dict = {"__name__": "program"}
    try:
        exec(compile(text, "program.py", "exec"), namespace)
        return ("value", namespace["run"]())
    except Exception as error:  # noqa: BLE001 - the exception type is the observable
        return ("raises", type(error).__name__)


@pytest.mark.parametrize("name", sorted(PROGRAMS))
@pytest.mark.parametrize("unsafe", [False, True], ids=["safe", "unsafe"])
def test_fixed_program_behaves_as_the_original(name: str, unsafe: bool) -> None:
    program, _ = PROGRAMS[name]
    text = textwrap.dedent(program).lstrip()
    fixed = _fixed(text, unsafe)
    torch.manual_seed(0)
    before = _outcome(text)
    torch.manual_seed(0)
    after = _outcome(fixed)
    assert before[0] == after[0], f"original: {before}\nfixed: {after}\n{fixed}"
    if before[0] == "value":
        assert torch.equal(before[1], after[1]) or torch.allclose(before[1], after[1], atol=1e-6), fixed
        assert before[1].dtype == after[1].dtype
    else:
        assert before[1] == after[1], fixed


@pytest.mark.parametrize("name", sorted(name for name, (_, fixes) in PROGRAMS.items() if fixes))
def test_controls_are_still_fixed(name: str) -> None:
    """The programs where the name is provably torch's still get their rewrite: the guards above are
    not passing by never fixing anything."""
    program, _ = PROGRAMS[name]
    text = textwrap.dedent(program).lstrip()
    assert "einsum(" in _fixed(text, unsafe=True)
