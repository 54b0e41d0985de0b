"""Evidence in the code against a fix withdraws it: an operand that the same scope uses with an
attribute torch.Tensor lacks (a structured matrix), and dtypes the code converts to that make ``*``
promote where einsum raises or keeps an integer dtype. Each case is checked both ways: with the evidence
the finding stays and the fix goes, with the evidence removed the fix is offered, so the test fails if
the evidence is ignored or if the snippet stops being a finding at all."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from einlint.engine.context import FileAnalysis
from einlint.evidence.foreign_attributes import attributes_tensors_lack, operand_root

# (rule, code with the evidence, the line that carries the evidence); without that line the rule offers a fix.
FOREIGN = [
    ("EIN101", "def f(covar, x):\n    y = covar.permute(2, 0, 1) @ x\n    return y, covar.add_jitter(1e-3)\n", "covar.add_jitter(1e-3)"),
    ("EIN101", "def f(self, x):\n    y = self.covar.permute(2, 0, 1) @ x\n    return y, self.covar.root_decomposition()\n", "self.covar.root_decomposition()"),
    ("EIN101", "def f(k, x):\n    if hasattr(k, 'evaluate'):\n        pass\n    return k.permute(2, 0, 1) @ x\n", "hasattr(k, 'evaluate')"),
    ("EIN102", "def f(a, b):\n    y = (a.permute(0, 2, 1, 3) @ b).permute(0, 2, 1, 3)\n    return y, b.evaluate_kernel()\n", "b.evaluate_kernel()"),
    ("EIN201", "def f(q, k):\n    y = torch.einsum('bqd,bdk->bqk', q, k.transpose(1, 2))\n    return y, k.evaluate()\n", "k.evaluate()"),
    ("EIN202", "def f(x, w):\n    wt = w.t().contiguous()\n    return x @ wt, w.batch_shape\n", "w.batch_shape"),
    # Read through tensor methods: covar.view(3, 4) is computed from covar.
    (
        "EIN301",
        "def f(covar, b, xs):\n    for x in xs:\n        y = torch.einsum('ij,jk,kl->il', covar.view(3, 4), b.view(4, 5), x.view(5, 6))\n"
        "    return y, covar.add_jitter()\n",
        "covar.add_jitter()",
    ),
    ("EIN121", "def f(k, x):\n    return torch.einsum('bij,bjk->bik', k, x), k.root_decomposition()\n", "k.root_decomposition()"),
    # Statements with no line that could read an attribute are not searched: these read one all the same,
    # with the dot on the second line of the statement, and with getattr spelled in letters Python folds.
    ("EIN101", "def f(k, x):\n    y = k.permute(2, 0, 1) @ x\n    z = (k\n         .add_jitter(1e-3))\n    return y, z\n", "(k\n         .add_jitter(1e-3))"),
    (
        "EIN101",
        "def f(k, x):\n    \uff47\uff45\uff54\uff41\uff54\uff54\uff52(k, 'evaluate')\n    return k.permute(2, 0, 1) @ x\n",
        "\uff47\uff45\uff54\uff41\uff54\uff54\uff52(k, 'evaluate')",
    ),
]


def _findings(einlint, tmp_path: Path, code: str, select: str) -> list[dict]:
    path = tmp_path / "snippet.py"
    path.write_text("import torch\n\n\n" + code, encoding="utf-8")
    run = einlint("--select", select, "--unsafe-fixes", "--no-cache", "--format", "json", str(path))
    assert run.err == "", run.err
    return json.loads(run.out)


@pytest.mark.parametrize(("code", "source", "evidence"), FOREIGN, ids=[f"{code}-{index}" for index, (code, _, _) in enumerate(FOREIGN)])
def test_an_operand_used_as_another_class_has_no_fix(code: str, source: str, evidence: str, einlint, tmp_path: Path) -> None:
    (finding,) = _findings(einlint, tmp_path, source, code)
    assert finding["fix"] is None
    assert "which a torch tensor lacks" in finding["message"]
    (control,) = _findings(einlint, tmp_path, source.replace(evidence, "None"), code)
    assert control["fix"] is not None, control["message"]


@pytest.mark.parametrize(
    "source",
    [
        # Setting an attribute is something a tensor allows.
        "def f(covar, x):\n    covar.tag = 1\n    return covar.permute(2, 0, 1) @ x\n",
        # Attributes a tensor has.
        "def f(covar, x):\n    return covar.permute(2, 0, 1) @ x, covar.to_dense(), covar.shape, covar.grad\n",
        # Another scope's covar.
        "def f(covar, x):\n    def g(covar):\n        return covar.add_jitter()\n    return covar.permute(2, 0, 1) @ x\n",
        # Another value, not an operand.
        "def f(covar, x, prior):\n    return covar.permute(2, 0, 1) @ x, prior.add_jitter()\n",
    ],
)
def test_what_a_tensor_allows_keeps_the_fix(source: str, einlint, tmp_path: Path) -> None:
    (finding,) = _findings(einlint, tmp_path, source, "EIN101")
    assert finding["fix"] is not None, finding["message"]


# ``self`` in a method of a class that is provably not a tensor class: (code, a variant where the
# fix comes back because the class may be a tensor class or ``self`` may be something else).
SELF_OF_ANOTHER_CLASS = [
    ("class Op(object):\n    def f(self, x):\n        return (self.permute(0, 2, 1, 3) @ x).permute(0, 2, 1, 3)\n", "Op(object)", "Op(torch.Tensor)"),
    ("class Op:\n    def f(self, x):\n        return (self.permute(0, 2, 1, 3) @ x).permute(0, 2, 1, 3)\n", "class Op:", "class Op(Imported):"),
    (
        "class Base(nn.Module):\n    pass\n\n\nclass Op(Base):\n    def f(self, x):\n        return (self.permute(0, 2, 1, 3) @ x).permute(0, 2, 1, 3)\n",
        "(nn.Module)",
        "(torch.Tensor)",
    ),
    ("class Op:\n    def f(self, x):\n        return (self.permute(0, 2, 1, 3) @ x).permute(0, 2, 1, 3)\n", "def f(", "@staticmethod\n    def f("),
    (
        "class Op:\n    def f(this, x):\n        return (this.permute(0, 2, 1, 3) @ x).permute(0, 2, 1, 3)\n",
        "def f(this, x):",
        "def f(this, x):\n        this = x",
    ),
    ("class Op:\n    def f(self, x):\n        return (self.permute(0, 2, 1, 3) @ x).permute(0, 2, 1, 3)\n", "class Op:", "class Op(metaclass=Meta):"),
]


@pytest.mark.parametrize(("source", "evidence", "without"), SELF_OF_ANOTHER_CLASS)
def test_self_of_a_class_that_is_not_a_tensor_class_has_no_fix(source: str, evidence: str, without: str, einlint, tmp_path: Path) -> None:
    (finding,) = _findings(einlint, tmp_path, source, "EIN102")
    assert finding["fix"] is None
    assert "a class that does not derive from torch.Tensor" in finding["message"]
    (control,) = _findings(einlint, tmp_path, source.replace(evidence, without), "EIN102")
    assert control["fix"] is not None, control["message"]


def test_self_in_a_nested_function_or_another_operand_keeps_the_fix(einlint, tmp_path: Path) -> None:
    nested = "class Op:\n    def f(self, x):\n        def g(self):\n            return (self.permute(0, 2, 1, 3) @ x).permute(0, 2, 1, 3)\n        return g\n"
    (finding,) = _findings(einlint, tmp_path, nested, "EIN102")
    assert finding["fix"] is not None, finding["message"]
    attribute = "class Op:\n    def f(self, x):\n        return (self.w.permute(0, 2, 1, 3) @ x).permute(0, 2, 1, 3)\n"
    (finding,) = _findings(einlint, tmp_path, attribute, "EIN102")
    assert finding["fix"] is not None, finding["message"]


def test_attributes_are_collected_per_receiver_without_nested_scopes() -> None:
    import ast

    tree = ast.parse(
        "def f(k, m):\n"
        "    k.add_jitter(); k.permute(0, 1); getattr(m, 'root_decomposition'); m.lazy = 1\n"
        "    self.covar.evaluate(); (k + m).evaluate()\n"
        "    def g(k):\n        return k.inner_only()\n"
    )
    function = tree.body[0]
    found = attributes_tensors_lack(function)
    assert found == {"k": ("add_jitter",), "m": ("root_decomposition",), "self": ("covar",), "self.covar": ("evaluate",)}


@pytest.mark.parametrize(
    ("operand", "root"),
    [
        ("covar", "covar"),
        ("self.covar.mT", "self.covar"),
        ("covar.view(3, 4).float()", "covar"),
        ("covar.evaluate()", None),  # what a method a tensor lacks returns is another value
        ("self.proj(x)", None),  # a module's output
        ("self.data", "self.data"),  # only reordering attributes are read through
    ],
)
def test_operand_root(operand: str, root: str | None) -> None:
    import ast

    assert operand_root(ast.parse(operand, mode="eval").body) == root


def test_a_structured_matrix_runs_with_matmul_and_not_with_einsum() -> None:
    """Why the fix goes: a class with ``@`` and ``permute`` (as gpytorch's LinearOperator has) computes
    the original, while the einsum the fix would write raises on it."""
    torch = pytest.importorskip("torch")

    class Structured:
        def __init__(self, dense):
            self.dense = dense

        def permute(self, *dims):
            return Structured(self.dense.permute(*dims))

        def add_jitter(self, value):
            return Structured(self.dense + value)

        def __matmul__(self, other):
            return self.dense @ other

    covar, x = Structured(torch.randn(3, 4, 2)), torch.randn(2, 4, 5)
    assert (covar.permute(2, 0, 1) @ x).shape == (2, 3, 5)
    with pytest.raises(TypeError):
        torch.einsum("cdb,bdi->bci", covar, x)


@pytest.mark.parametrize(
    ("expression", "reason"),
    [
        ("(a.float() * b.to(torch.float16)).sum(-1)", "different dtypes"),
        ("(a.float() * b.to(dtype=torch.bfloat16)).sum(-1)", "different dtypes"),
        ("(a.double() * b.type(torch.float16)).sum(-1)", "different dtypes"),
        ("(a.half() * b.to('cpu', torch.float32)).sum(-1)", "different dtypes"),
        ("(a.to(torch.long) * b).sum(-1)", "integer or bool"),
        ("(a.to(dtype=torch.int32) * b.float()).sum(-1)", "integer or bool"),
        ("(a.type(torch.LongTensor) * b).sum(-1)", "integer or bool"),
    ],
)
def test_converted_dtypes_withdraw_a_summed_product_fix(expression: str, reason: str, einlint, tmp_path: Path) -> None:
    source = f"def f():\n    a = torch.randn(4, 5)\n    b = torch.randn(4, 5)\n    return {expression}\n"
    (finding,) = _findings(einlint, tmp_path, source, "EIN103")
    assert finding["fix"] is None
    assert reason in finding["message"]
    same = "(a.to(torch.float16) * b.half()).sum(-1)"
    (control,) = _findings(einlint, tmp_path, source.replace(expression, same), "EIN103")
    assert control["fix"] is not None, control["message"]


def test_converted_dtypes_are_what_torch_computes() -> None:
    """The reasons above, in torch: ``*`` promotes mixed dtypes where einsum raises, and ``sum`` of an
    int32 product is int64 where einsum keeps int32."""
    torch = pytest.importorskip("torch")
    a, b = torch.randn(4, 5), torch.randn(4, 5)
    assert (a.float() * b.to(torch.float16)).sum(-1).dtype == torch.float32
    with pytest.raises(RuntimeError):
        torch.einsum("bd,bd->b", a.float(), b.to(torch.float16))
    ints = a.to(dtype=torch.int32)
    assert (ints * ints).sum(-1).dtype == torch.int64
    assert torch.einsum("bd,bd->b", ints, ints).dtype == torch.int32


@pytest.mark.parametrize(
    "source",
    [
        "def f(k, x):\n    z = (k\n         .add_jitter(1e-3))\n    return z\n",
        "def f(k, x):\n    z = k.\\\n        add_jitter(1e-3)\n    return z\n",
        "def f(k, x):\n    \uff47\uff45\uff54\uff41\uff54\uff54\uff52(k, 'evaluate')\n    return x\n",
        "def f(k, x):\n    if hasattr(k, 'evaluate'):\n        pass\n    return x\n",
    ],
)
def test_lines_ruled_out_hold_no_attribute_read(source: str) -> None:
    """A long scope is searched only on the lines that could read an attribute: the same result as
    the whole search, whatever line the dot or the builtin's name is on."""
    import ast

    tree = ast.parse(source)
    analysis = FileAnalysis(tree, [], frozenset(), text=source)
    function = tree.body[0]
    assert (
        attributes_tensors_lack(function, analysis.may_read_attributes)
        == attributes_tensors_lack(function)
        == {"k": (source.split("'")[1] if "'" in source else "add_jitter",)}
    )
