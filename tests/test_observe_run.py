"""``einlint observe -- COMMAND`` end to end, on a tiny project in a temporary directory: the recorder
runs inside ``python -m pytest`` and ``python script.py`` (their threads and Python subprocesses too),
the command's exit code and output are its own, and what was recorded is kept when the command dies.
Then linting reads the observations: observed fixes where the assumptions held, no fix where another
class flowed, unsafe fixes where the statement never ran, and ``--fix --observed-fixes`` applies only
the observed ones (the tests still pass after it)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.filterwarnings("ignore")

MODEL = """\
import torch


def scores(q, k):
    s = q.permute(0, 2, 1, 3) @ k
    return s


def mixed(q, k):
    s = q.permute(0, 2, 1, 3) @ k
    return s


def unused(x, w):
    return x.permute(0, 2, 1, 3) @ w
"""
TESTS = '''\
import torch

from pkg.model import mixed, scores


class Lazy:
    """Not a tensor: it permutes and multiplies lazily, as a structured-matrix class might."""

    def __init__(self, tensor):
        self.tensor = tensor

    def permute(self, *dims):
        return Lazy(self.tensor.permute(*dims))

    def __matmul__(self, other):
        return self.tensor @ other


def test_scores():
    q, k = torch.randn(2, 5, 3, 4), torch.randn(2, 3, 4, 6)
    assert torch.allclose(scores(q, k), q.permute(0, 2, 1, 3) @ k)


def test_mixed_with_tensors_and_another_class():
    k = torch.randn(2, 3, 4, 6)
    assert mixed(torch.randn(2, 5, 3, 4), k).shape == (2, 3, 5, 6)
    assert mixed(Lazy(torch.randn(2, 5, 3, 4)), k).shape == (2, 3, 5, 6)
'''
SCORES = "    s = q.permute(0, 2, 1, 3) @ k"


def einlint(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    environment = {**os.environ, "EINLINT_CACHE_DIR": str(cwd / ".cache")}
    return subprocess.run([sys.executable, "-m", "einlint", *args], cwd=cwd, capture_output=True, text=True, env=environment, timeout=600)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "demo"\n', encoding="utf-8")
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "__init__.py").write_text("", encoding="utf-8")
    (tmp_path / "pkg" / "model.py").write_text(MODEL, encoding="utf-8")
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "test_model.py").write_text(TESTS, encoding="utf-8")
    return tmp_path


def findings(project: Path, *args: str) -> dict[int, dict]:
    run = einlint("--format", "json", *args, "pkg", cwd=project)
    return {item["line"]: item for item in json.loads(run.stdout)}


def test_observe_pytest_then_lint_and_fix(project: Path) -> None:
    run = einlint("observe", "--", sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests", cwd=project)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "2 passed" in run.stdout
    # The fourth flagged statement is the test's own reference computation, which ran too.
    assert run.stderr.strip().splitlines()[-1].startswith("einlint observe: 3 of 4 flagged statements ran (4 executions); wrote ")
    found = findings(project, "--unsafe-fixes")
    # scores: tensors only -> observed.
    assert found[5]["fix"]["applicability"] == "observed"
    assert found[5]["observed"]["executions"] == 1
    assert found[5]["observed"]["ranks"] == [4] and found[5]["observed"]["dtypes"] == ["torch.float32"]
    assert found[5]["observed"]["seconds"] > 0
    # mixed: another class flowed once -> no fix, and the message says what was seen.
    assert found[10]["fix"] is None
    assert found[10]["message"].endswith("[fix withdrawn: observed `q` as test_model.Lazy in 1 of 2 executions]")
    # unused: never ran -> still unsafe, and says so.
    assert found[15]["fix"]["applicability"] == "unsafe"
    assert found[15]["observed"]["status"] == "not observed"

    fixed = einlint("--fix", "--observed-fixes", "pkg", cwd=project)
    assert fixed.returncode == 1, fixed.stdout + fixed.stderr
    model = (project / "pkg" / "model.py").read_text(encoding="utf-8")
    assert model == MODEL.replace(SCORES, "    s = torch.einsum('bqhd,bhdk->bhqk', q, k)", 1)
    rerun = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"], cwd=project, capture_output=True, text=True, timeout=600)
    assert rerun.returncode == 0, rerun.stdout

    # Editing a statement drops its observations.
    (project / "pkg" / "model.py").write_text(
        model.replace("    s = q.permute(0, 2, 1, 3) @ k\n", "    s = q.permute(0, 2, 1, 3) @ k  # edited\n"), encoding="utf-8"
    )
    assert findings(project, "--unsafe-fixes")[10]["observed"]["status"] == "not observed"


SCRIPT = """\
import subprocess
import sys
import threading
import time

import torch

from pkg.model import scores, unused

q, k = torch.randn(2, 5, 3, 4), torch.randn(2, 3, 4, 6)
print(float(scores(q, k).sum()))
worker = threading.Thread(target=lambda: print(float(scores(q, k).sum())))
worker.start()
worker.join()
subprocess.run([sys.executable, "child.py"], check=True)
if sys.argv[1:] == ["crash"]:
    time.sleep(2.2)  # past the recorder's flush interval: the next execution writes what it has
    scores(q, k)
    import os
    os._exit(7)  # no atexit, no flush at exit
sys.exit(3)
"""
CHILD = """\
import torch

from pkg.model import unused

torch.manual_seed(0)
print(float(unused(torch.randn(2, 5, 3, 4), torch.randn(2, 3, 4, 6)).sum()))
"""


@pytest.mark.parametrize(("argument", "exit_code", "executions"), [("", 3, 2), ("crash", 7, 3)])
def test_observe_script_threads_subprocesses_and_crashes(project: Path, argument: str, exit_code: int, executions: int) -> None:
    (project / "script.py").write_text("import torch\ntorch.manual_seed(0)\n" + SCRIPT, encoding="utf-8")
    (project / "child.py").write_text(CHILD, encoding="utf-8")
    command = [sys.executable, "script.py", *([argument] if argument else [])]
    environment = {**os.environ, "PYTHONPATH": str(project)}
    plain = subprocess.run(command, cwd=project, capture_output=True, text=True, env=environment, timeout=600)
    observed = subprocess.run(
        [sys.executable, "-m", "einlint", "observe", "--", *command], cwd=project, capture_output=True, text=True, env=environment, timeout=600
    )
    assert plain.returncode == observed.returncode == exit_code, observed.stderr
    assert observed.stdout == plain.stdout  # the recorder changes nothing the program computes
    found = findings(project, "--unsafe-fixes")
    assert found[5]["fix"]["applicability"] == "observed"
    assert found[5]["observed"]["executions"] == executions  # the main thread, the worker thread (and the crash run)
    # The Python subprocess inherited the recording.
    assert found[15]["fix"]["applicability"] == "observed"
    assert found[15]["observed"]["executions"] == 1


def test_observe_usage_errors(project: Path) -> None:
    missing_separator = einlint("observe", "python", cwd=project)
    assert missing_separator.returncode == 2
    assert missing_separator.stderr.splitlines()[-1] == "einlint observe: error: give the command after --"
    no_command = einlint("observe", "--", cwd=project)
    assert (no_command.returncode, no_command.stderr.strip()) == (2, "einlint observe: error: no command after --")
    not_found = einlint("observe", "--", "no-such-command-here", cwd=project)
    assert not_found.returncode == 2
    assert not_found.stderr.strip().startswith("einlint: error: cannot run no-such-command-here: ")


def test_flagged_statement_in_a_test_module_that_pytest_rewrites(tmp_path: Path) -> None:
    # pytest imports its test modules through its own import hook: the recorder must start there too.
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "demo"\n', encoding="utf-8")
    (tmp_path / "test_only.py").write_text(
        "import torch\n\n\ndef test_scores():\n    q, k = torch.randn(2, 5, 3, 4), torch.randn(2, 3, 4, 6)\n"
        "    s = q.permute(0, 2, 1, 3) @ k\n    assert s.shape == (2, 3, 5, 6)\n",
        encoding="utf-8",
    )
    run = einlint("observe", "--", sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_only.py", cwd=tmp_path)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "1 of 1 flagged statements ran (1 execution); wrote " in run.stderr.strip().splitlines()[-1]
    (finding,) = json.loads(einlint("--format", "json", "test_only.py", cwd=tmp_path).stdout)
    assert finding["observed"]["executions"] == 1
