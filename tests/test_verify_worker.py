"""Each pair verified in a worker process with resource limits: an allocation past the address-space
limit, a hang past the wall-clock limit, a worker that exits, crashes or spins past its CPU time each
give that pair "not verifiable" with the reason, and the next pair is verified by a fresh worker.

The limits here are tiny so that the tests are quick; the hostile pairs go through ``hostile_task``,
which the worker imports from this module (the allowlist lets no user expression do these things)."""

from __future__ import annotations

import os
import signal
import time

import pytest

pytest.importorskip("torch")

from einlint.verify.verifier import EQUIVALENT, NOT_VERIFIABLE, VerifyOptions, verify_pair  # noqa: E402
from einlint.verify.worker import PairWorker, WorkerLimits  # noqa: E402

TINY = VerifyOptions(profiles=("tiny",), timing=False, use_cache=False)
BMM = ("torch.bmm(q, k.transpose(1, 2))", "torch.einsum('bqd,bkd->bqk', q, k)")
# Nine labels: the tiny profile builds tensors of 2*3*...*10 elements, 28 MiB in float64.
NINE_LABELS = ("torch.einsum('abcdefghi->...abcdefghi', x)", "torch.einsum('abcdefghi->abcdefghi', x)")
# The worker may map 64 MiB beyond what it maps once warm: a nine-label pair's tensors do not fit.
# 3 s of CPU per pair: a tiny pair with its gradient and autocast checks needs well under 1 s, but a slow
# or loaded machine can take longer, and the spinning pair must still be stopped by the limit.
TIGHT = WorkerLimits(wall_seconds=20, memory_allowance=64 << 20, cpu_seconds=3)


def hostile_task(original: str, rewritten: str, imports, options, assumptions=()):
    """Run in the worker: what the original's text asks for, else the real verification."""
    if original == "hang":
        time.sleep(600)
    elif original == "exit":
        os._exit(3)
    elif original == "signal":
        os.kill(os.getpid(), signal.SIGSEGV)
        time.sleep(600)
    elif original == "spin":
        while True:
            pass
    return verify_pair(original, rewritten, imports, options, assumptions)


@pytest.fixture(scope="module")
def worker():
    with PairWorker(TIGHT, task=hostile_task) as running:
        yield running


def _then_verified(worker: PairWorker) -> None:
    following = worker.verify(*BMM, None, TINY)
    assert following.verdict == EQUIVALENT, following.reason


def test_an_allocation_past_the_address_space_limit_is_over_budget(worker: PairWorker) -> None:
    result = worker.verify(*NINE_LABELS, None, TINY)
    assert result.verdict == NOT_VERIFIABLE
    assert result.reason.startswith("over budget: allocation failed"), result.reason
    assert any(line.startswith("address space") for line in worker.limits_in_force), worker.limits_in_force
    _then_verified(worker)


def test_a_worker_that_exits_gives_a_verdict_and_the_next_pair_is_verified(worker: PairWorker) -> None:
    starts = worker.starts
    result = worker.verify("exit", "exit", None, TINY)
    assert (result.verdict, result.reason) == (NOT_VERIFIABLE, "the verifier's worker process exited with status 3")
    _then_verified(worker)
    assert worker.starts == starts + 1


def test_a_worker_killed_by_a_signal_gives_a_verdict(worker: PairWorker) -> None:
    result = worker.verify("signal", "signal", None, TINY)
    assert (result.verdict, result.reason) == (NOT_VERIFIABLE, "the verifier's worker process crashed (SIGSEGV)")
    _then_verified(worker)


def test_a_pair_past_its_cpu_time_is_stopped_by_the_operating_system(worker: PairWorker) -> None:
    result = worker.verify("spin", "spin", None, TINY)
    assert result.verdict == NOT_VERIFIABLE
    assert result.reason == "over the CPU-time limit of 3 s (the verifier's worker process was stopped by SIGXCPU)"
    _then_verified(worker)


def test_a_pair_past_the_wall_clock_limit_is_stopped() -> None:
    with PairWorker(WorkerLimits(wall_seconds=1.5), task=hostile_task) as worker:
        worker.verify(*BMM, None, TINY)  # started and warm: the limit now measures the pair alone
        started = time.monotonic()
        result = worker.verify("hang", "hang", None, TINY)
        # The hang sleeps 600 s: well under that proves the limit stopped it, even on a loaded machine.
        assert time.monotonic() - started < 120
        assert (result.verdict, result.reason) == (NOT_VERIFIABLE, "over the wall-clock limit of 1.5 s (the verifier's worker process was stopped)")
        _then_verified(worker)


def test_a_verdict_from_the_worker_is_the_verdict_in_process(worker: PairWorker) -> None:
    in_worker = worker.verify(*BMM, None, TINY)
    here = verify_pair(*BMM, options=TINY)
    assert (in_worker.verdict, in_worker.reason, in_worker.original_code, in_worker.rewritten_code) == (
        here.verdict, here.reason, here.original_code, here.rewritten_code,
    )  # fmt: skip
    assert [case.case for case in in_worker.cases] == [case.case for case in here.cases]


def test_a_worker_that_cannot_start_ends_the_run_with_one_line() -> None:
    from einlint.verify.runtime import VerifierUnavailable

    with PairWorker(TIGHT, task=hostile_task) as worker:
        with pytest.raises(VerifierUnavailable, match="--device cuda|unknown device"):
            worker.verify(*BMM, None, VerifyOptions(device="tpu", profiles=("tiny",), timing=False, use_cache=False))
