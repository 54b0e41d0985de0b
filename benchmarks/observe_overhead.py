#!/usr/bin/env python3
"""What ``einlint observe`` costs on a torch-heavy CPU test run.

Standalone script, not a test: figures depend on the machine. It writes a small project to a
temporary directory (a multi-head attention block and an MLP, tested by training them for a number of
steps on CPU, forward and backward, and calling a three-operand einsum as often, so that the flagged
statements and the einsum call run thousands of times amid many Python calls that the recorder must
decline), then times, alternately, ``python -m pytest -q`` alone
and under ``einlint observe --``, and prints the median CPU time (user + system, of the whole
process tree) and wall time of each, and their ratios. CPU time is the figure to trust on a shared
machine, where wall time moves with the load. torch runs one thread (``OMP_NUM_THREADS=1``). The
observed run's time includes linting the project first and merging the observations after.

    /path/to/venv/bin/python benchmarks/observe_overhead.py              # 3 rounds, 200 steps
    /path/to/venv/bin/python benchmarks/observe_overhead.py --rounds 5 --steps 400
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

MODEL = """\
import torch


class Attention(torch.nn.Module):
    def __init__(self, width, heads):
        super().__init__()
        self.heads = heads
        self.qkv = torch.nn.Linear(width, 3 * width)
        self.out = torch.nn.Linear(width, width)

    def forward(self, x):
        batch, length, width = x.shape
        q, k, v = self.qkv(x).reshape(batch, length, 3, self.heads, width // self.heads).unbind(2)
        scores = q.permute(0, 2, 1, 3) @ k.permute(0, 2, 3, 1)
        weights = scores.softmax(-1)
        mixed = weights @ v.permute(0, 2, 1, 3)
        return self.out(mixed.transpose(1, 2).reshape(batch, length, width))


class Block(torch.nn.Module):
    def __init__(self, width, heads):
        super().__init__()
        self.norm1 = torch.nn.LayerNorm(width)
        self.attention = Attention(width, heads)
        self.norm2 = torch.nn.LayerNorm(width)
        self.mlp = torch.nn.Sequential(torch.nn.Linear(width, 4 * width), torch.nn.GELU(), torch.nn.Linear(4 * width, width))

    def forward(self, x):
        x = x + self.attention(self.norm1(x))
        return x + self.mlp(self.norm2(x))


def pairwise(a, b):
    return (a.unsqueeze(-1) * b.unsqueeze(-3)).sum(-2)


def bilinear(x, w, y):
    return torch.einsum("bi,ij,bj->b", x, w, y)
"""
TESTS = """\
import torch

from model import Block, bilinear, pairwise

STEPS = {steps}


def test_training_reduces_the_loss():
    torch.manual_seed(0)
    model = torch.nn.Sequential(Block(32, 4), Block(32, 4))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05)
    x = torch.randn(8, 16, 32)
    target = torch.randn(8, 16, 32)
    first = None
    for _ in range(STEPS):
        loss = torch.nn.functional.mse_loss(model(x), target)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        first = first if first is not None else float(loss)
    assert float(loss) < first


def test_pairwise_matches_matmul():
    for _ in range(STEPS):
        a, b = torch.randn(4, 8, 16), torch.randn(4, 16, 8)
        assert torch.allclose(pairwise(a, b), a @ b, atol=1e-5)


def test_bilinear_matches_matmul():
    w = torch.randn(16, 16)
    for _ in range(STEPS):
        x, y = torch.randn(8, 16), torch.randn(8, 16)
        assert torch.allclose(bilinear(x, w, y), ((x @ w) * y).sum(-1), atol=1e-4)
"""


def timed(command: list[str], cwd: Path, environment: dict[str, str]) -> tuple[float, float]:
    """(CPU seconds of the command and every process it waited for, wall seconds)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    run = subprocess.run(command, cwd=cwd, env=environment, capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if run.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{run.stdout}\n{run.stderr}")
    return after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime, elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--steps", type=int, default=200)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        project = Path(folder)
        (project / "pyproject.toml").write_text('[project]\nname = "bench"\n', encoding="utf-8")
        (project / "model.py").write_text(MODEL, encoding="utf-8")
        (project / "test_model.py").write_text(TESTS.format(steps=args.steps), encoding="utf-8")
        environment = dict(os.environ, EINLINT_CACHE_DIR=str(project / ".cache"), PYTHONDONTWRITEBYTECODE="1", OMP_NUM_THREADS="1")
        pytest = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_model.py"]
        observe = [sys.executable, "-m", "einlint", "observe", "--", *pytest]
        plain_times, observed_times = [], []
        for _ in range(args.rounds):
            plain_times.append(timed(pytest, project, environment))
            observed_times.append(timed(observe, project, environment))
        recorded = json.loads((project / ".einlint" / "observations.json").read_text(encoding="utf-8"))
        executions = sum(site["executions"] for site in recorded["sites"]) // args.rounds
    for label, times in ((f"python -m pytest ({args.steps} training steps)", plain_times), ("einlint observe -- the same", observed_times)):
        cpu = statistics.median(t[0] for t in times)
        wall = statistics.median(t[1] for t in times)
        runs = ", ".join(f"{t[0]:.2f}/{t[1]:.2f}" for t in times)
        print(f"{label}: CPU {cpu:.2f} s, wall {wall:.2f} s (runs, CPU/wall: {runs})")
    cpu_ratio = statistics.median(t[0] for t in observed_times) / statistics.median(t[0] for t in plain_times)
    wall_ratio = statistics.median(t[1] for t in observed_times) / statistics.median(t[1] for t in plain_times)
    print(f"overhead: {cpu_ratio:.2f}x CPU, {wall_ratio:.2f}x wall; {len(recorded['sites'])} statements recorded, {executions} executions per run")


if __name__ == "__main__":
    main()
