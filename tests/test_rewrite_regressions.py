"""Unsound EIN1xx rewrites found by running both versions, each kept as the tier its fix must have now.

``safe`` rewrites must be equivalent wherever the original runs; where the code does not prove that,
the fix is ``unsafe`` (it names its assumptions), has ``no fix`` (reported only) or there is ``no
finding`` at all. Each case says what the fix did before and why that was wrong.
"""

from __future__ import annotations

import textwrap

import pytest

from einlint.config import KNOWN_ASSUMPTIONS, Settings
from einlint.engine.runner import RuleSet, lint_source
from einlint.engine.source import SourceText
from einlint.rules.rewrite._chain_rule import SLOWER_REWRITE

CODES = ("EIN101", "EIN102", "EIN103", "EIN104", "EIN111")
SETTINGS = Settings(select=CODES)

CASES = {
    # Before: safe; sum() gives int64 for int32 operands, einsum int32.
    "integer matmul then sum": (
        """
        a = torch.ones(3, 4, dtype=torch.int32)
        b = torch.ones(5, 4, dtype=torch.int32)
        y = (a @ b.T).sum(-1)
        """,
        "no fix",
    ),
    # Before: safe; float32 * float64 promotes, einsum raises.
    "float32 times float64": (
        """
        a = torch.randn(3, 4)
        b = torch.randn(3, 4, dtype=torch.float64)
        y = (a * b).sum(-1)
        """,
        "unsafe",
    ),
    "two stated dtypes that differ": (
        """
        a = torch.randn(3, 4, dtype=torch.float32)
        b = torch.randn(3, 4, dtype=torch.float64)
        y = (a * b).sum(-1)
        """,
        "no fix",
    ),
    "one stated dtype, two spellings": (
        """
        a = torch.randn(3, 4, dtype=torch.double)
        b = torch.randn(3, 4, dtype=torch.float64)
        y = (a * b).sum(-1)
        """,
        "unsafe",
    ),
    "softmax to another dtype": (
        """
        a = torch.randn(3, 4, dtype=torch.float64).softmax(-1, dtype=torch.float32)
        b = torch.randn(3, 4, dtype=torch.float64)
        y = (a * b).sum(-1)
        """,
        "unsafe",
    ),
    # Before: safe; a float32 tensor times a 0-D float64 one stays float32, einsum gives float64.
    "0-D factor": (
        """
        a = torch.randn(3, 4)
        s = torch.ones((), dtype=torch.float64)
        y = (a * s).sum(-1)
        """,
        "no finding",
    ),
    # Before: explicit 2-D labels for e.mul(m), which broadcasts to m's 3 dimensions: einsum raised.
    # Now its rank is unknown and '...d,id->...i' holds for every rank.
    "elementwise method with a tensor argument": (
        """
        e = torch.randn(5, 4)
        m = torch.ones(3, 5, 4)
        w = torch.randn(6, 4)
        v = e.mul(m) @ w.T
        """,
        "unsafe",
    ),
    "elementwise method with a number": (
        """
        e = torch.randn(5, 4)
        w = torch.randn(6, 4)
        v = e.mul(0.5) @ w.T
        """,
        "unsafe",
    ),
    # Before: safe; numpy arrays have flatten() too, and einsum raises on them.
    "flatten is not tensor-only": (
        """
        c = torch.randn(3, 4)
        w = torch.randn(6, 4)
        v = c.flatten().float() @ w.T
        """,
        "unsafe",
    ),
    "flatten of an unknown value": (
        """
        def f(c):
            w = torch.randn(6, 4)
            return c.flatten() @ w.T
        """,
        "unsafe",
    ),
    # Before: safe; the result was contiguous, einsum's was a permuted view, and .view() raised.
    "result viewed directly": (
        """
        g = torch.randn(2, 3, 5, 4)
        h = torch.randn(3, 6, 4)
        r = torch.matmul(g, h.transpose(-1, -2)).view(2, -1)
        """,
        "unsafe",
    ),
    "result viewed through a local": (
        """
        def f():
            g = torch.randn(2, 3, 5, 4)
            h = torch.randn(3, 6, 4)
            r = torch.matmul(g, h.transpose(-1, -2))
            return r.view(2, -1)
        """,
        "unsafe",
    ),
    "result reshaped": (
        """
        g = torch.randn(2, 3, 5, 4)
        h = torch.randn(3, 6, 4)
        r = torch.matmul(g, h.transpose(-1, -2)).reshape(2, -1)
        """,
        "unsafe",
    ),
    # Before: unsafe ("a is a torch tensor") on values known to be something else.
    "numpy array": ("a = np.ones((3, 3))\nr = a @ a.T", "no finding"),
    "numpy annotation": ("def f(a: np.ndarray, b):\n    return a @ b.T", "no finding"),
    "array of a tensor": ("def f(x, w):\n    a = x.cpu().numpy()\n    return a @ w.T", "no finding"),
    "instance of a class": ("def f(w):\n    q = Quaternion(1, 0, 0, 0)\n    return q @ w.T", "no finding"),
    # Before: safe; the rank of the function's x did not hold after these.
    "in-place unsqueeze_": (
        """
        x = torch.randn(3, 4)
        w = torch.randn(5, 4)
        x.unsqueeze_(0)
        r = x @ w.T
        """,
        "unsafe",
    ),
    "x.data replaced": (
        """
        x = torch.randn(3, 4)
        w = torch.randn(5, 4)
        x.data = torch.randn(2, 3, 4)
        r = x @ w.T
        """,
        "unsafe",
    ),
    "match capture": (
        """
        def f(v, w):
            m = torch.randn(3, 4)
            w = torch.randn(5, 4)
            match v:
                case [m, n]:
                    return m @ w.T
        """,
        "unsafe",
    ),
    "class body rebinding": (
        """
        a = torch.randn(3, 4)
        class C:
            a = np.ones((3, 4))
            r = a @ a.T
        """,
        "unsafe",
    ),
    "comprehension variable": (
        """
        a = torch.randn(4, 5)
        b = torch.randn(4, 5)
        ys = [(a * b).sum(-1) for a, b in pairs]
        """,
        "unsafe",  # the comprehension's a and b are not the factories': their dtype is assumed, never proven
    ),
    "lambda parameter": ("w = torch.randn(6, 4)\nc = torch.randn(3, 4)\nf = lambda c: c @ w.T", "unsafe"),
    # Before: a permute that torch rejects was read modulo the rank.
    "permute out of range": ("a = torch.randn(2, 3)\nk = torch.randn(4, 2)\ny = torch.matmul(a.permute(0, 5), k.T)", "no finding"),
    # Before: safe, and torch.einsum raised NameError: torch was imported inside another function.
    "torch imported in another function": (
        """
        def helper():
            import torch as th
            return th.zeros(1)

        def scores(q, k):
            return q.bmm(k.transpose(1, 2))
        """,
        "no fix",
    ),
    # Before: safe, because bmm is a method numpy arrays lack; gpytorch's LinearOperator has it too,
    # and einsum raises on one.
    "torch imported in the same function": (
        """
        def scores(q, k):
            import torch as th
            return q.bmm(k.transpose(1, 2))
        """,
        "unsafe",
    ),
    "torch imported in the same function, tensors known": (
        """
        import torch

        def scores(q: torch.Tensor, k: torch.Tensor):
            import torch as th
            return q.bmm(k.transpose(1, 2))
        """,
        "unsafe",
    ),
    # Before: an unsafe fix; the name is bound twice, so its facts were not trusted, but the assignment
    # that reaches the use divides a numpy array.
    "numpy array through a rebound name": (
        """
        def f(resp):
            embs = np.array(resp, dtype=np.float32)
            embs = embs / (np.linalg.norm(embs, axis=1, keepdims=True) + 1e-8)
            return embs @ embs.T
        """,
        "no finding",
    ),
    # A name bound twice: the assignment that reaches the use decides, when only one can.
    "rebound name, one assignment reaches": (
        """
        def f(x: torch.Tensor, flag):
            w = torch.randn(4, 4)
            if flag:
                w = torch.randn(3, 4)
                return x @ w.T
            return None
        """,
        "unsafe",
    ),
    "rebound name, two assignments may reach": (
        """
        def f(x: torch.Tensor, flag):
            if flag:
                w = torch.randn(3, 4)
            else:
                w = torch.randn(3, 5, 4)
            return x @ w.T
        """,
        "unsafe",
    ),
    "rebound later in the loop": (
        """
        def f(x: torch.Tensor, ws):
            w = torch.randn(3, 4)
            for v in ws:
                y = x @ w.T
                w = v
            return y
        """,
        "unsafe",
    ),
    # Before: unsafe (float-dtypes); a floating tensor times itself has one dtype.
    "a floating tensor times itself": (
        """
        def f(n, dtype):
            q = torch.randn((n, 4), dtype=dtype)
            return (q * q).sum(dim=1)
        """,
        "unsafe",
    ),
    "two floating tensors of unknown dtypes": (
        """
        def f(n, dtype, other):
            q = torch.randn((n, 4), dtype=dtype)
            p = torch.randn((n, 4), dtype=other)
            return (q * p).sum(dim=1)
        """,
        "unsafe",
    ),
    # Before: an unsafe fix assuming v has at least 2 dimensions, right under ``if v.ndim == 1``.
    "rank given by an if guard": (
        """
        def f(a: torch.Tensor, v: torch.Tensor):
            if v.ndim == 1:
                return a.mT.matmul(v)
            return None
        """,
        "no finding",
    ),
    "rank guard does not reach the else branch": (
        """
        def f(a: torch.Tensor, v: torch.Tensor):
            if v.ndim == 1:
                return None
            else:
                return a.mT.matmul(v)
        """,
        "unsafe",
    ),
    # Before: safe. A tensor-like class (matmul and .mT, no einsum): methods do not prove a tensor, and
    # ``self`` of a class with no bases is an instance of that class, never a tensor: no fix at all.
    "tensor-like class": (
        """
        class Operator:
            def rmatmul(self, other):
                return self.mT.matmul(other.mT).mT
        """,
        "no fix",
    ),
    # The same method where the class's base is imported: it may be a tensor class, so the fix stays,
    # resting on the assumption that the operands are tensors.
    "tensor-like class of an imported base": (
        """
        class Operator(Base):
            def rmatmul(self, other):
                return self.mT.matmul(other.mT).mT
        """,
        "unsafe",
    ),
    # Before: the fix produced code that does not parse (the f-string's own quote inside it).
    "f-string": ("x = torch.randn(2, 3)\nw = torch.randn(4, 3)\nprint(f'{x @ w.T}')", "unsafe"),
    "f-strings with both quotes": ("x = torch.randn(2, 3)\nw = torch.randn(4, 3)\nprint(f\"{f'{x @ w.T}'}\")", "no fix"),
    # Before: safe whenever the tensors and ranks were known. mm/bmm/matmul raise when the contracted
    # sizes differ; einsum broadcasts a size-1 one and returns a value.
    "contracted sizes proven different": (
        """
        a = torch.randn(3, 4)
        b = torch.randn(5, 1)
        y = (a @ b.T).contiguous()
        """,
        "no fix",
    ),
    "contracted sizes proven equal, layout hidden": (
        """
        a = torch.randn(3, 4)
        b = torch.randn(5, 4)
        y = (a @ b.T).contiguous()
        """,
        "safe",
    ),
    "one tensor against itself, layout hidden": (
        """
        def gram(n):
            a = torch.randn(n, 4)
            return (a.T @ a).contiguous()
        """,
        "safe",
    ),
    # Before: safe. An annotation is no proof of a dense tensor (sparse tensors, subclasses).
    "annotated operands": (
        """
        def f(a: torch.Tensor, b: torch.Tensor):
            return (torch.mm(a, b.T) @ torch.eye(3)).sum()
        """,
        "unsafe",
    ),
    # Before: safe. Under torch.autocast einsum computes in bfloat16, the product and sum in float32.
    "product then sum of float32 tensors": (
        """
        q = torch.randn(3, 4)
        k = torch.randn(3, 4)
        y = (q * k).sum(-1)
        """,
        "unsafe",
    ),
    "product then sum of float64 tensors, layout hidden": (
        """
        q = torch.randn(3, 4, dtype=torch.float64)
        k = torch.randn(3, 4, dtype=torch.float64)
        y = (q * k).sum(-1).contiguous()
        """,
        "safe",
    ),
}


def _tier(code: str) -> str:
    code = textwrap.dedent(code).strip()
    imports = "import numpy as np\n" + ("" if "import torch" in code else "import torch\n")
    text = imports + "\n" + code + "\n"
    diagnostics = lint_source(SourceText.from_bytes("case.py", text.encode()), SETTINGS, RuleSet.for_settings(SETTINGS)).diagnostics
    if not diagnostics:
        return "no finding"
    assert len(diagnostics) == 1, [d.message for d in diagnostics]
    fix = diagnostics[0].fix
    if fix is None:
        return "no fix"
    # The tier soundness decides: a fix unsafe only because its rule's rewrite is measured slower
    # (EIN103, EIN104) counts as safe here; test_slower_rewrites_are_never_safe covers that part.
    if set(fix.assumptions) == {SLOWER_REWRITE}:
        return "safe"
    return fix.applicability.value


@pytest.mark.parametrize(("code", "tier"), CASES.values(), ids=CASES.keys())
def test_fix_tier(code: str, tier: str) -> None:
    assert _tier(code) == tier


def test_broadcasting_method_result_gets_an_ellipsis() -> None:
    """``e.mul(m)`` has m's rank, not e's: explicit labels for e's rank made einsum raise."""
    text = "import torch\ne = torch.randn(5, 4)\nm = torch.ones(3, 5, 4)\nw = torch.randn(6, 4)\nv = e.mul(m) @ w.T\n"
    (diagnostic,) = lint_source(SourceText.from_bytes("case.py", text.encode()), SETTINGS, RuleSet.for_settings(SETTINGS)).diagnostics
    assert "'...d,id->...i'" in diagnostic.message


@pytest.mark.parametrize(
    ("code", "rule"),
    [
        # .contiguous() hides the result's layout and float64 is never autocast: only the slowdown is left.
        ("x = torch.randn(4, 10, 8)\nw = torch.randn(16, 8)\ny = (x @ w.T).contiguous()", "EIN104"),
        (
            "a = torch.randn(4, 5, dtype=torch.float64)\nb = torch.randn(4, 5, dtype=torch.float64)\ny = (a * b).sum(-1).contiguous()",
            "EIN103",
        ),
    ],
)
def test_slower_rewrites_are_never_safe(code: str, rule: str) -> None:
    """Everything proven, yet the fix stays unsafe: its rule knows the rewrite is slower, so a plain
    --fix must not apply it, and no ``assume`` entry can waive that."""
    settings = Settings(select=(rule,), assume=frozenset(KNOWN_ASSUMPTIONS))
    text = "import torch\n" + code + "\n"
    diagnostics = lint_source(SourceText.from_bytes("case.py", text.encode()), settings, RuleSet.for_settings(settings)).diagnostics
    assert [d.code for d in diagnostics] == [rule]
    fix = diagnostics[0].fix
    assert fix is not None and fix.applicability.value == "unsafe"
    assert fix.assumptions == (SLOWER_REWRITE,)


@pytest.mark.parametrize(
    "signature",
    ["a: torch.BoolTensor, b: torch.BoolTensor", "a: torch.LongTensor, b", 'a: Int[torch.Tensor, "n d"], b', 'a: Bool[torch.Tensor, "n d"], b'],
)
def test_a_stated_integer_dtype_withdraws_the_fix_even_when_floats_are_declared(signature: str) -> None:
    """``assume = ["float-dtypes"]`` speaks for the project at large; an annotation that states an
    integer or bool dtype is evidence about this operand, and sum would promote it where einsum
    does not."""
    settings = Settings(select=CODES, assume=frozenset({"float-dtypes", "tensor-operands", "operand-ranks"}))
    text = f"import torch\nfrom jaxtyping import Bool, Int\n\n\ndef f({signature}):\n    return (a * b).sum(-1)\n"
    diagnostics = lint_source(SourceText.from_bytes("case.py", text.encode()), settings, RuleSet.for_settings(settings)).diagnostics
    assert [d.code for d in diagnostics] == ["EIN103"]
    assert diagnostics[0].fix is None and "integer or bool dtype" in diagnostics[0].message
