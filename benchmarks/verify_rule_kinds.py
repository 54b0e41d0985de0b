#!/usr/bin/env python3
"""Run the verifier, with timing, on one representative rewrite of each rule kind and print a Markdown
table: equivalence, max error, and forward / forward+backward medians and speedups per shape.

Standalone script, not a test: its numbers depend on the machine (a few minutes on a laptop CPU).

    /path/to/venv/bin/python benchmarks/verify_rule_kinds.py                 # CPU
    /path/to/venv/bin/python benchmarks/verify_rule_kinds.py --device cuda   # a GPU, when there is one

The first three pairs are what einlint's rules write for the original (EIN111, EIN101); the
``.contiguous()`` drop is the pair a layout rule makes, and the three-operand chain is written here
(the rewriter stops at two operands, because torch.einsum searches a contraction path for three or
more on every call - this row shows what that costs).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from einlint.verify.report import markdown_table  # noqa: E402
from einlint.verify.runtime import VerifierUnavailable  # noqa: E402
from einlint.verify.verifier import FixVerification, VerifyOptions, verify_pair  # noqa: E402

DEFAULT_OUT = REPO_ROOT / "benchmarks" / "results" / "verify_rule_kinds.md"

# (kind, the rule that makes it, original, rewritten)
RULE_KINDS = [
    ("outer-product-then-sum", "EIN111", "(x.unsqueeze(-1) * y.unsqueeze(-2)).sum(0)", "torch.einsum('di,dj->ij', x, y)"),
    ("attention q·kᵀ", "EIN101", "torch.matmul(q, k.transpose(-1, -2))", "torch.einsum('...qd,...kd->...qk', q, k)"),
    (
        "permute-fold", "EIN101",
        "torch.matmul(q.permute(0, 2, 1, 3), k.permute(0, 2, 3, 1))", "torch.einsum('bqhd,bkhd->bhqk', q, k)",
    ),
    (
        "transposed result", "EIN102",
        "torch.matmul(attn, v).transpose(1, 2)", "torch.einsum('bhqk,bhkd->bqhd', attn, v)",
    ),
    (
        "inner-transpose operand", "EIN101",
        "torch.matmul(q.transpose(1, 2), k)", "torch.einsum('bqhd,bhde->bhqe', q, k)",
    ),
    (
        "permute, matmul, permute back", "EIN101",
        "torch.matmul(x.permute(0, 2, 1, 3), w).permute(0, 2, 1, 3)", "torch.einsum('bshd,bhde->bshe', x, w)",
    ),
    ("weight transpose x @ W.T", "EIN104", "torch.matmul(x, w.T)", "torch.einsum('...d,id->...i', x, w)"),
    (
        "matrix-vector through a column", "EIN105",
        "torch.matmul(A, x.unsqueeze(-1)).squeeze(-1)", "torch.einsum('...id,...d->...i', A, x)",
    ),
    (".contiguous() drop", "EIN202", "torch.matmul(a, b.transpose(-1, -2).contiguous())", "torch.matmul(a, b.transpose(-1, -2))"),
    (
        "multi-operand chain", "-",
        "torch.matmul(torch.matmul(a, b.transpose(-1, -2)), c)", "torch.einsum('...ij,...kj,...kl->...il', a, b, c)",
    ),
]  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    parser.add_argument("--min-run-time", type=float, default=0.2, help="seconds per measurement (default 0.2)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"Markdown file to write (default {DEFAULT_OUT.relative_to(REPO_ROOT)})")
    parser.add_argument("--json", type=Path, help="also write the verdicts as JSON")
    parser.add_argument("--threads", type=int, help="torch intra-op threads (default: torch's own choice)")
    args = parser.parse_args(argv)
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    options = VerifyOptions(device=args.device, min_run_time=args.min_run_time, use_cache=False)
    verifications = []
    try:
        for kind, rule, original, rewritten in RULE_KINDS:
            print(f"verifying {kind} ...", file=sys.stderr, flush=True)
            result = verify_pair(original, rewritten, options=options)
            verifications.append(FixVerification(kind, 0, 0, f"{kind} ({rule})", "", (), (), result))
    except VerifierUnavailable as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    first = verifications[0].result
    lines = [
        f"# einlint --verify: one rewrite per rule kind ({first.device})",
        "",
        f"torch {first.torch_version}; float32; timings are medians of torch.utils.benchmark blocked_autorange "
        f"(min_run_time {args.min_run_time}s); speedup = original time / rewritten time, labelled faster or slower "
        "only beyond the measured noise. Forward runs without autograd; forward+backward computes the gradient "
        "of every operand.",
        "",
        "| Kind | Original | Rewritten |",
        "|---|---|---|",
        *(f"| {kind} ({rule}) | `{original}` | `{rewritten}` |" for kind, rule, original, rewritten in RULE_KINDS),
        "",
        markdown_table(verifications, location=False),
    ]
    text = "\n".join(lines)
    print(text)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text, encoding="utf-8")
    if args.json:
        args.json.write_text(json.dumps([item.result.to_dict() for item in verifications], indent=2) + "\n", encoding="utf-8")
    return 0 if all(item.result.equivalent for item in verifications) else 1


if __name__ == "__main__":
    sys.exit(main())
