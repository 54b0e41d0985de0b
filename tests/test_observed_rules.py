"""The rules that report only from observations (EIN291, EIN391): recorded end to end by ``einlint
observe -- python script.py`` at ``torch.einsum`` calls no static rule flags, then reported by linting
against the same calls; never from the code alone; selection, ``# noqa`` and the static rule they
defer to (EIN301) apply as to any finding."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import REPOSITORY_ROOT
from einlint.observe.observations import dense_permutation
from einlint.observe.sites import statement_hash

pytestmark = pytest.mark.filterwarnings("ignore")

MODEL = """\
import torch


def project(h, w):
    x = h[..., :4]
    return torch.einsum("bij,jk->bik", x, w)


def transposed(h, w):
    x = h.transpose(1, 2)
    return torch.einsum("bij,jk->bik", x, w)


def chain(a, b, c):
    return torch.einsum("ij,jk,kl->il", a, b, c)


def chain_varying(a, b, c):
    return torch.einsum("ij,jk,kl->il", a, b, c)


def chain_looped(a, bs, c):
    for b in bs:
        a = torch.einsum("ij,jk,kl->il", a, b, c)
    return a
"""
SCRIPT = """\
import torch

from pkg.model import chain, chain_looped, chain_varying, project, transposed

w = torch.randn(4, 5)
for _ in range(3):
    project(torch.randn(2, 3, 8), w)
    transposed(torch.randn(2, 4, 3), w)
b, c = torch.randn(4, 4), torch.randn(4, 6)
for step in range(12):
    chain(torch.randn(3, 4), b, c)
    chain_varying(torch.randn(3 + step % 2, 4), b, c)
chain_looped(torch.randn(3, 4), [b] * 12, torch.randn(4, 4))
print("done")
"""


def einlint(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    environment = {**os.environ, "EINLINT_CACHE_DIR": str(cwd / ".cache")}
    return subprocess.run([sys.executable, "-m", "einlint", *args], cwd=cwd, capture_output=True, text=True, env=environment, timeout=600)


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("observed-rules")
    (root / "pyproject.toml").write_text('[project]\nname = "demo"\n', encoding="utf-8")
    (root / "pkg").mkdir()
    (root / "pkg" / "__init__.py").write_text("", encoding="utf-8")
    (root / "pkg" / "model.py").write_text(MODEL, encoding="utf-8")
    (root / "script.py").write_text(SCRIPT, encoding="utf-8")
    return root


def codes_by_line(project: Path, *args: str, observations: bool = True) -> dict[int, list[str]]:
    extra = () if observations else ("--observations", str(project / "none.json"))
    run = einlint("--format", "json", *extra, *args, "pkg", cwd=project)
    found: dict[int, list[str]] = {}
    for item in json.loads(run.stdout or "[]"):
        found.setdefault(item["line"], []).append(item["code"])
    return found


def test_nothing_is_reported_from_the_code_alone(project: Path) -> None:
    assert not (project / ".einlint").exists()
    found = codes_by_line(project, "--select", "EIN291,EIN391")
    assert found == {}


def test_observed_einsum_calls_give_the_runtime_findings(project: Path) -> None:
    run = einlint("observe", "--", sys.executable, "script.py", cwd=project)
    assert run.returncode == 0, run.stdout + run.stderr
    assert run.stdout == "done\n"
    # chain_looped is flagged by EIN301; the four other calls are watched as einsum calls.
    assert "1 of 1 flagged statements ran (12 executions), 4 of 4 other einsum calls" in run.stderr.strip().splitlines()[-1]
    found = codes_by_line(project)
    # The sliced operand (line 6) is strided; the transposed one (line 11) a reordered dense tensor.
    assert found.get(6) == ["EIN291"] and 11 not in found
    # chain (15): 12 executions at one set of shapes; chain_varying (19): two shapes of `a`.
    assert found.get(15) == ["EIN391"] and 19 not in found
    # chain_looped (24): EIN301 reports the same loop from the code, and EIN391 stays silent beside it.
    assert found.get(24) == ["EIN301"]
    assert codes_by_line(project, "--select", "EIN391").get(24) == ["EIN391"]

    run = einlint("--select", "EIN291,EIN391", "pkg", cwd=project)
    lines = run.stdout.splitlines()
    assert lines[0].startswith(
        "pkg/model.py:6:12: EIN291 `x` reached torch.einsum strided in memory in 3 of 3 executions (shape (2, 3, 4), strides (24, 8, 1));"
    )
    assert lines[0].endswith(" (observed: 3 executions, " + lines[0].rsplit(" (observed: 3 executions, ", 1)[1])
    assert lines[1].startswith("pkg/model.py:15:12: EIN391 torch.einsum with 3 operands ran 12 times at the same shapes (3x4, 4x4, 4x6), ")


def test_selection_applies_to_runtime_findings(project: Path) -> None:
    if not (project / ".einlint" / "observations.json").exists():
        pytest.skip("needs the recording of the test before")
    assert codes_by_line(project).get(6) == ["EIN291"]
    assert 6 not in codes_by_line(project, "--ignore", "EIN291")
    assert 6 not in codes_by_line(project, observations=False)


@pytest.mark.parametrize("suppressed", [False, True])
def test_noqa_applies_to_runtime_findings(suppressed: bool, tmp_path: Path) -> None:
    """The EIN291 fixture and its hand-written observations, the flagged statement's comment
    replaced by ``# noqa: EIN291`` (and its observations re-keyed to the edited statement)."""
    fixture = REPOSITORY_ROOT / "fixtures" / "layout" / "EIN291.py"
    lines = fixture.read_text(encoding="utf-8").split("\n")
    if suppressed:
        lines[5] = lines[5].split("  #")[0] + "  # noqa: EIN291"
    (tmp_path / "module.py").write_text("\n".join(lines), encoding="utf-8")
    observations = json.loads(fixture.with_suffix(".observations.json").read_text(encoding="utf-8"))
    for site in observations["sites"]:
        site["path"] = "module.py"
        if site["line"] == 6:
            site["hash"] = statement_hash([lines[5]])
    (tmp_path / ".einlint").mkdir()
    (tmp_path / ".einlint" / "observations.json").write_text(json.dumps(observations), encoding="utf-8")
    run = einlint("--format", "json", "module.py", cwd=tmp_path)
    assert [item["line"] for item in json.loads(run.stdout) if item["code"] == "EIN291"] == ([] if suppressed else [6])


@pytest.mark.parametrize(
    ("shape", "strides", "dense"),
    [
        ((2, 3), (3, 1), True),  # contiguous
        ((3, 2), (1, 3), True),  # transposed
        ((2, 3, 4), (12, 1, 3), True),  # permuted
        ((2, 1, 4), (4, 99, 1), True),  # a size-1 dimension's stride does not matter
        ((4, 3), (6, 1), False),  # a slice of wider rows
        ((4, 3), (2, 8), False),  # a step
        ((4, 3), (0, 1), False),  # a broadcast
    ],
)
def test_dense_permutation(shape: tuple[int, ...], strides: tuple[int, ...], dense: bool) -> None:
    assert dense_permutation(shape, strides) is dense
