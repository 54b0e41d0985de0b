"""The allowlist on its own: expressions built to get code past it are refused, both as canonical code
(what ``check_allowed`` sees) and as user text (through ``prepare``); what it lets through compiles
to a function whose only names are torch and the operands."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from einlint.verify import allowlist
from einlint.verify.allowlist import check_allowed, compile_checked
from einlint.verify.errors import NotVerifiable
from einlint.verify.expressions import prepare

PLACEHOLDERS = frozenset({"x0", "x1"})

HOSTILE = [
    "x0.__class__", "x0.__class__.__bases__", "x0.T.__dict__", "().__class__", "x0.t.__self__", "torch.__builtins__",
    "torch._C", "x0._base", "torch.load('model.pt')", "torch.ops.aten.add(x0, x0)", "torch.linalg.inv(x0)",
    "torch.from_numpy(x0)", "torch.empty(4096, 4096, 4096)", "torch.ones(1)", "x0.numpy()", "x0.tolist()",
    "x0.data_ptr()", "x0.backward()", "x0.register_hook(x1)", "x0.apply_(x1)", "x0.add_(x1)", "x0.copy_(x1)",
    "x0.storage()", "getattr(x0, 'T')", "eval('1')", "__import__('os')", "open('f')", "print(x0)", "os.system('ls')",
    "(lambda: x0)()", "[x for x in x0]", "{x0: x1}", "{x0}", "f'{x0}'", "x0 if x1 else x1", "(y := x0)",
    "x0 ** 100000", "x0 << 2", "x0 % x1", "x0 == x1", "not x0", "~x0", "x0 and x1", "x0.sum(*x1)",
    "x0.sum(**x1)", "x0.to(device='cuda')", "x0.reshape(shape=(1,))", "x0 * 1e300", "x0 * 100000",
    "x0.reshape(-100000)", "x0[x1]", "x0['a']", "x0[::x1]", "x0.matmul", "torch.einsum", "torch", "x2",
    "torch.einsum('ij->ji', x0).__class__", "torch.einsum('ij->ji', x0, torch)", "torch.matmul(x0, torch.float32.__class__)",
    "x0.sum(dim=lambda: 0)", "x0.to(x0.__class__)", "torch.einsum('ij', [x0, 1])", "b'bytes' + x0", "x0.view(1j)",
    "torch.float64", "'a string'", "1 + 2", "torch.tensor([1.0])", "torch.randn(3)", "x0.new_empty(3)",
    "torch.linalg.multi_dot.__globals__", "torch.nn.functional.linear(x0, x1)", "x0.T.T.__reduce__()",
]  # fmt: skip


@pytest.mark.parametrize("code", HOSTILE)
def test_hostile_canonical_code_is_refused(code: str) -> None:
    with pytest.raises(NotVerifiable):
        check_allowed(ast.parse(code, mode="eval"), PLACEHOLDERS)


@pytest.mark.parametrize(
    ("original", "rewritten"),
    [
        ("torch.matmul(a, b)", "torch.matmul(a, b).__class__"),
        ("torch.matmul(a, b)", "torch.matmul(a, b) if a else b"),
        ("torch.matmul(a, b)", "torch.matmul(a, __import__('os').system('true'))"),
        ("torch.matmul(a, b)", "torch.einsum('ij,jk->ik', a, b.__class__)"),
        ("torch.matmul(a, b)", "torch.matmul(a, b)[x0]"),  # a user name that looks like a placeholder
        ("torch.matmul(a, b)", "torch.matmul(a, b).sum(dim=(lambda: 0)())"),
        ("torch.matmul(a, b)", "__builtins__"),
        ("torch.matmul(a, b)", "torch.einsum(f'ij,jk->ik', a, b)"),
        ("torch.matmul(a, b)", "t.matmul(a, b)"),  # an unknown name, not torch
    ],
)
def test_hostile_user_text_is_not_verifiable(original: str, rewritten: str) -> None:
    with pytest.raises(NotVerifiable):
        prepare(original, rewritten)


@pytest.mark.parametrize(
    "code",
    [
        "torch.einsum('ij,jk->ik', x0, x1)", "torch.einsum('ij,jk->ik', [x0, x1])", "x0 @ x1.mT", "x0.T",
        "torch.linalg.multi_dot([x0, x1])", "(x0.unsqueeze(-1) * x1.unsqueeze(-2)).sum(0)",
        "x0.to(torch.float64)", "x0.sum(dim=(-1, -2), keepdim=True)", "x0[..., None, 1:3]", "-x0 / 2",
    ],
)  # fmt: skip
def test_what_rewrites_use_is_allowed(code: str) -> None:
    check_allowed(ast.parse(code, mode="eval"), PLACEHOLDERS)


def test_the_boundary_is_small_and_stands_alone() -> None:
    source = Path(allowlist.__file__).read_text(encoding="utf-8")
    imported = {
        node.module if isinstance(node, ast.ImportFrom) else alias.name
        for node in ast.walk(ast.parse(source))
        if isinstance(node, (ast.Import, ast.ImportFrom))
        for alias in node.names
    }
    assert imported == {"__future__", "ast", "collections.abc", "einlint.verify.errors"}
    assert len(source.splitlines()) < 250


@pytest.mark.parametrize("code", HOSTILE)
def test_the_compiler_checks_what_it_is_given_itself(code: str) -> None:
    # Code that never went through prepare (a bug upstream, a forged ExpressionPair) is refused too.
    with pytest.raises(NotVerifiable):
        compile_checked(code, ("x0", "x1"), torch=object())


def test_compiled_code_sees_only_torch_and_its_operands() -> None:
    class FakeTorch:
        @staticmethod
        def matmul(a, b):
            return ("matmul", a, b)

    function = compile_checked("torch.matmul(x0, x1.T)", ("x0", "x1"), FakeTorch)

    class Operand:
        T = "transposed"

    assert function("a", Operand()) == ("matmul", "a", "transposed")
    assert function.__globals__ == {"__builtins__": {}, "torch": FakeTorch}


# The calls that compile or evaluate code, and the modules allowed to make them: the verifier's
# boundary, and EIN302's evaluation of an equation template that _static_equations has checked.
EVALUATING_CALLS = frozenset({"eval", "exec", "compile"})
MAY_EVALUATE = {"einlint/verify/allowlist.py", "einlint/rules/churn/ein302_equation_built_in_loop.py"}


def test_nothing_else_in_einlint_compiles_or_evaluates_code() -> None:
    package = Path(allowlist.__file__).parents[2]
    callers = set()
    for path in (package / "einlint").rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and _builtin_called(node.func) in EVALUATING_CALLS:
                callers.add(path.relative_to(package).as_posix())
    assert callers == MAY_EVALUATE


def _builtin_called(function: ast.expr) -> str | None:
    """``eval`` for ``eval(...)`` and ``builtins.eval(...)``; None for ``re.compile(...)`` and the like."""
    if isinstance(function, ast.Name):
        return function.id
    if isinstance(function, ast.Attribute) and isinstance(function.value, ast.Name) and function.value.id == "builtins":
        return function.attr
    return None
