"""Verify pairs in a child process with resource limits, so that what goes wrong while one pair runs -
an allocation past the limit, a crash of torch, a hang, an error - ends that pair's verification and
nothing else.

One worker serves the pairs of a run one at a time: it imports torch once (about 1.5 s; a fork per pair
cannot share a parent's OpenMP or CUDA state safely, a fresh process per pair would pay that import for
every fix). When a pair kills the worker or passes the wall-clock limit, the pair is "not verifiable"
with the reason and the next pair starts a fresh worker. The limits, set in the worker:

- address space (``RLIMIT_AS``): what the worker maps after torch is loaded and warm, plus an allowance;
  an allocation past it fails inside torch and the pair is "over budget". Not set for CUDA, whose driver
  reserves far more address space than it uses, nor where the platform lacks the limit;
- CPU time (``RLIMIT_CPU``), per pair: the operating system stops a worker past it, which also bounds a
  worker whose parent is gone;
- wall-clock time, per pair: the parent stops a worker that has not answered in time.
"""

from __future__ import annotations

import contextlib
import json
import math
import multiprocessing
import os
import signal
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import TYPE_CHECKING

from einlint.verify.runtime import VerifierUnavailable

if TYPE_CHECKING:
    from einlint.evidence.imports import ImportTable
    from einlint.verify.verifier import PairVerdict, VerifyOptions

try:
    import resource
except ImportError:  # not on Windows: the wall-clock limit still holds there
    resource = None  # type: ignore[assignment]

# What the tensors of one fix may take (at most 448 MiB, see inputs.py), gradients and intermediates,
# with room to spare: past it something the budgets did not foresee is allocating.
DEFAULT_MEMORY_ALLOWANCE = 2 << 30
# glibc reserves address space for each thread's malloc arena; torch's threads must not eat the allowance.
ARENA_RESERVE_PER_THREAD = 64 << 20
# Seconds a worker may take to import torch and warm up: minutes on a loaded machine, never a fix's fault.
DEFAULT_STARTUP_SECONDS = 300.0
# Beyond the per-fix time budget (verifier.py), which is checked between cases: the case or timing
# block running when the budget ends still finishes.
WALL_CLOCK_GRACE = 30.0


@dataclass(frozen=True)
class WorkerLimits:
    """The limits of the worker process. ``memory_allowance``: bytes of address space beyond what the
    warm worker maps (None: no address-space limit); ``cpu_seconds``: CPU time per pair, all threads
    together (None: ``wall_seconds`` times torch's threads); ``wall_seconds``: per pair."""

    wall_seconds: float
    memory_allowance: int | None = DEFAULT_MEMORY_ALLOWANCE
    cpu_seconds: float | None = None
    startup_seconds: float = DEFAULT_STARTUP_SECONDS

    @classmethod
    def for_time_budget(cls, time_budget: float) -> WorkerLimits:
        return cls(wall_seconds=time_budget + WALL_CLOCK_GRACE)


# A function with verify_pair's signature: (original, rewritten, imports, options) -> PairVerdict.
PairTask = Callable[..., object]

# The worker's first lines: take the parent's import path (so that it finds what the parent finds,
# and ``-I`` keeps the working folder and PYTHON* variables from changing that), then serve.
_BOOTSTRAP = (
    "import signal, sys\n"
    "signal.signal(signal.SIGINT, signal.SIG_IGN)\n"
    "from multiprocessing.connection import Connection\n"
    "connection = Connection(int(sys.argv[1]))\n"
    "sys.path[:] = connection.recv()\n"
    "from einlint.verify.worker import serve\n"
    "serve(connection, *connection.recv())\n"
)


class _Child:
    """The worker process as ``subprocess`` runs it: a fresh interpreter that imports only einlint and
    torch (``multiprocessing``'s spawn would also run the caller's main module again)."""

    def __init__(self, arguments: tuple) -> None:
        ours, theirs = multiprocessing.Pipe()
        self.connection = ours
        try:
            self.process = subprocess.Popen(
                [sys.executable, "-I", "-c", _BOOTSTRAP, str(theirs.fileno())], pass_fds=(theirs.fileno(),), stdin=subprocess.DEVNULL
            )  # fmt: skip
        finally:
            theirs.close()
        ours.send(list(sys.path))
        ours.send(arguments)

    def is_alive(self) -> bool:
        return self.process.poll() is None

    def kill(self) -> None:
        self.process.kill()

    def join(self, timeout: float) -> None:
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout)

    @property
    def exitcode(self) -> int | None:
        return self.process.poll()  # negative: the signal that ended it, as in multiprocessing


class _SpawnedChild:
    """Where file descriptors cannot be handed to a child (Windows): ``multiprocessing``'s spawn."""

    def __init__(self, arguments: tuple) -> None:
        context = multiprocessing.get_context("spawn")
        ours, theirs = context.Pipe()
        self.connection = ours
        self.process = context.Process(target=serve, args=(theirs, *arguments), name="einlint-verify-worker", daemon=True)
        self.process.start()
        theirs.close()

    def is_alive(self) -> bool:
        return self.process.is_alive()

    def kill(self) -> None:
        self.process.kill()

    def join(self, timeout: float) -> None:
        self.process.join(timeout)

    @property
    def exitcode(self) -> int | None:
        return self.process.exitcode


@dataclass
class _Running:
    process: _Child | _SpawnedChild
    connection: Connection
    ready: dict = field(default_factory=dict)


class PairWorker:
    """Verifies pairs in a worker process; ``verify`` has ``verify_pair``'s signature. Use as a context
    manager (or call ``close``): the worker ends with it.

    ``start`` launches the worker without waiting for it, so that importing torch there overlaps with
    what the caller does meanwhile (linting). A worker that cannot start at all raises
    VerifierUnavailable from ``verify``: that is not one fix's failure. ``task`` is what the worker
    runs per pair (``verify_pair``); it travels by reference, so it must be importable."""

    def __init__(self, limits: WorkerLimits, task: PairTask | None = None) -> None:
        if task is None:
            from einlint.verify.verifier import verify_pair

            task = verify_pair
        self.limits = limits
        self.task = task
        self.starts = 0
        self._running: _Running | None = None
        self._device: str | None = None

    def __enter__(self) -> PairWorker:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def start(self, device: str | None = None) -> None:
        """Launch the worker (if none is running) for ``device``; returns at once."""
        if self._running is not None and self._device == device:
            return
        self._stop()
        self._device = device
        launch = _Child if os.name == "posix" else _SpawnedChild
        child = launch((self.limits, self.task, device))
        self.starts += 1
        self._running = _Running(child, child.connection)

    @property
    def limits_in_force(self) -> tuple[str, ...]:
        """What the running worker reported it limits, once it has started."""
        return tuple(self._running.ready.get("limits", ())) if self._running else ()

    def verify(
        self,
        original: str,
        rewritten: str,
        imports: ImportTable | None = None,
        options: VerifyOptions | None = None,
        assumptions: tuple[str, ...] = (),
    ) -> PairVerdict:
        """``verify_pair(original, rewritten, imports, options, assumptions)`` in the worker; a failure of
        the worker itself is this pair's "not verifiable" verdict with the reason."""
        from einlint.verify.verifier import NOT_VERIFIABLE, PairVerdict, VerifyOptions

        options = options or VerifyOptions()
        running = self._ready(options.device)
        flat = " ".join(original.split()), " ".join(rewritten.split())
        context = {key: running.ready.get(key, "") for key in ("device", "torch_version")}
        try:
            running.connection.send((original, rewritten, imports, options, tuple(assumptions)))
            answered = running.connection.poll(self.limits.wall_seconds)
        except (OSError, EOFError):
            answered = True  # the worker is gone; recv reports how
        if not answered:
            self._stop()
            reason = f"over the wall-clock limit of {self.limits.wall_seconds:g} s (the verifier's worker process was stopped)"
            return PairVerdict(NOT_VERIFIABLE, reason, *flat, **context)
        try:
            kind, payload = running.connection.recv()
        except (OSError, EOFError):
            reason = self._death_reason()
            self._stop()
            return PairVerdict(NOT_VERIFIABLE, reason, *flat, **context)
        if kind == "unavailable":
            raise VerifierUnavailable(payload)
        return PairVerdict.from_dict(json.loads(payload))

    def wait_ready(self, device: str | None = None) -> None:
        """Start the worker for ``device`` if need be and wait until it is ready; VerifierUnavailable
        when it cannot be (no torch there, no such device)."""
        self._ready(device)

    def _ready(self, device: str | None) -> _Running:
        """The running worker for ``device``, started if need be, once it has said it is ready."""
        if self._running is not None and self._running.ready and not self._running.process.is_alive():
            self._stop()  # gone while idle: not the next pair's doing
        self.start(device)
        running = self._running
        assert running is not None
        if running.ready:
            return running
        message, why = None, f"not ready after {self.limits.startup_seconds:g} s"
        try:
            if running.connection.poll(self.limits.startup_seconds):
                message = running.connection.recv()
        except (OSError, EOFError):
            why = self._death_reason()
        if message is None:
            self._stop()
            raise VerifierUnavailable(f"the verifier's worker process did not start ({why})")
        kind, payload = message
        if kind == "unavailable":
            self._stop()
            raise VerifierUnavailable(payload)
        running.ready = payload
        return running

    def _death_reason(self) -> str:
        running = self._running
        if running is None:
            return "the verifier's worker process is gone"
        running.process.join(5)
        code = running.process.exitcode
        if code is None:
            return "the verifier's worker process stopped answering"
        if code < 0:
            number = -code
            try:
                name = signal.Signals(number).name
            except ValueError:
                name = f"signal {number}"
            if number == getattr(signal, "SIGXCPU", None):
                limit = running.ready.get("cpu_seconds")
                return f"over the CPU-time limit{f' of {limit:g} s' if limit else ''} (the verifier's worker process was stopped by {name})"
            if number == signal.SIGKILL:
                return "the verifier's worker process was killed (SIGKILL: out of memory, or stopped from outside)"
            return f"the verifier's worker process crashed ({name})"
        return f"the verifier's worker process exited with status {code}"

    def _stop(self) -> None:
        running, self._running = self._running, None
        if running is None:
            return
        running.connection.close()
        if running.process.is_alive():
            running.process.kill()
        running.process.join(5)

    def close(self) -> None:
        running = self._running
        if running is not None and running.process.is_alive() and running.ready:
            try:
                running.connection.send(None)  # an idle worker ends on its own
                running.process.join(2)
            except (OSError, EOFError):
                pass
        self._stop()


def serve(connection: Connection, limits: WorkerLimits, task: PairTask, device: str | None) -> None:
    """The worker's main loop: warm up, set the limits, answer one pair at a time until told to stop
    or the parent is gone."""
    # Ctrl-C reaches the whole process group; the parent decides what happens to the worker.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        ready = _warm_up(device)
    except VerifierUnavailable as error:
        connection.send(("unavailable", str(error)))
        return
    threads = ready.pop("threads")
    cpu_seconds = limits.cpu_seconds if limits.cpu_seconds is not None else limits.wall_seconds * max(threads, 1)
    ready["cpu_seconds"] = cpu_seconds
    ready["limits"] = [
        f"wall-clock {limits.wall_seconds:g} s per fix",
        _limit_address_space(limits.memory_allowance, threads, ready["device"]),
        f"CPU time {cpu_seconds:g} s per fix" if _has_limit("RLIMIT_CPU") else "no CPU-time limit on this platform",
    ]
    connection.send(("ready", ready))
    while True:
        try:
            request = connection.recv()
        except (OSError, EOFError):
            return  # the parent is gone
        if request is None:
            return
        _limit_cpu_time(cpu_seconds)
        try:
            verdict = task(*request)
        except VerifierUnavailable as error:
            connection.send(("unavailable", str(error)))
            return
        # As JSON: plain data whatever the verdict holds, so that reading it never imports torch here.
        connection.send(("verdict", json.dumps(verdict.to_dict())))


def _warm_up(device: str | None) -> dict:
    """Import torch and run one small contraction with its gradient, so that the thread pool and the
    allocator's arenas exist before the address space is measured."""
    from einlint.verify.runtime import device_description, require_torch, resolve_device

    torch = require_torch()
    resolved = resolve_device(device)
    operand = torch.ones(64, 64, requires_grad=True)
    torch.einsum("ij,jk->ik", operand, operand).sum().backward()
    return {"device": device_description(resolved), "torch_version": str(torch.__version__), "threads": torch.get_num_threads()}


def _has_limit(name: str) -> bool:
    return resource is not None and hasattr(resource, name)


def _limit_address_space(allowance: int | None, threads: int, device: str) -> str:
    if allowance is None:
        return "no address-space limit (none asked for)"
    if device.startswith("cuda"):
        return "no address-space limit on CUDA (the driver reserves address space it does not use)"
    mapped = _mapped_bytes()
    if not _has_limit("RLIMIT_AS") or mapped is None:
        return "no address-space limit on this platform"
    limit = mapped + allowance + ARENA_RESERVE_PER_THREAD * threads
    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    try:
        resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
    except (ValueError, OSError) as error:
        return f"no address-space limit ({error})"
    return f"address space {limit / 2**20:.0f} MiB ({allowance / 2**20:.0f} MiB beyond the warm worker)"


def _mapped_bytes() -> int | None:
    """The worker's address space now, from /proc (Linux); None where that is not available."""
    try:
        with open("/proc/self/statm", encoding="ascii") as handle:
            pages = int(handle.read().split()[0])
    except (OSError, ValueError, IndexError):
        return None
    return pages * os.sysconf("SC_PAGE_SIZE")


def _limit_cpu_time(seconds: float) -> None:
    """RLIMIT_CPU counts the process's whole life: the soft limit moves to what this pair may add. The
    hard limit stays, since an unprivileged process cannot raise it again for the next pair."""
    if not _has_limit("RLIMIT_CPU"):
        return
    usage = resource.getrusage(resource.RUSAGE_SELF)
    limit = math.ceil(usage.ru_utime + usage.ru_stime + seconds)
    _, hard = resource.getrlimit(resource.RLIMIT_CPU)
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    try:
        resource.setrlimit(resource.RLIMIT_CPU, (limit, hard))
    except (ValueError, OSError):
        pass
