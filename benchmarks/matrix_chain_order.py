#!/usr/bin/env python3
"""Time EIN106's rewrites at the sizes the code states: each chain as written and in the cheapest
association, forward, with ``torch.utils.benchmark`` (one thread by default; the fastest block). The verifier times a fix
on synthetic sizes of its own, which say nothing about a reassociation; this script uses the sizes.

    /path/to/venv/bin/python benchmarks/matrix_chain_order.py
"""

from __future__ import annotations

import argparse

# (what, factor shapes, written, cheapest)
CHAINS = [
    ("projection last", [(512, 8), (8, 512), (512, 8)], "a @ b @ c", "a @ (b @ c)"),
    ("row block times square times column", [(128, 1024), (1024, 1024), (1024, 1)], "a @ b @ c", "a @ (b @ c)"),
    ("memory-bound (not reported)", [(16, 512), (512, 512), (512, 1)], "a @ b @ c", "a @ (b @ c)"),
    ("wrong way round", [(4, 512), (512, 512), (512, 512)], "a @ (b @ c)", "a @ b @ c"),
    ("four factors", [(256, 4), (4, 256), (256, 256), (256, 4)], "a @ b @ c @ d", "a @ (b @ (c @ d))"),
    ("large projection", [(4096, 64), (64, 4096), (4096, 64)], "a @ b @ c", "a @ (b @ c)"),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--min-run-time", type=float, default=0.5)
    args = parser.parse_args()
    import torch
    import torch.utils.benchmark as benchmark

    torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, CPU, {args.threads} thread(s), float32, forward")
    print("| chain | sizes | written | cheapest | speedup |")
    print("|---|---|---:|---:|---:|")
    for what, shapes, written, cheapest in CHAINS:
        tensors = {name: torch.randn(shape) for name, shape in zip("abcd", shapes)}
        times = []
        for statement in (written, cheapest):
            timer = benchmark.Timer(stmt=statement, globals=tensors, num_threads=args.threads)
            # The fastest block: on a shared machine other processes only ever add time.
            times.append(min(timer.blocked_autorange(min_run_time=args.min_run_time).times))
        sizes = ", ".join("x".join(map(str, shape)) for shape in shapes)
        print(f"| {what} | {sizes} | {times[0] * 1e6:.0f} us | {times[1] * 1e6:.0f} us | {times[0] / times[1]:.1f}x |")


if __name__ == "__main__":
    main()
