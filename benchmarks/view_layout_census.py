#!/usr/bin/env python3
"""Census of ``.view(...)`` calls in a source tree, as EIN203/EIN204 see them.

Standalone script, not a test. For every ``.view`` call with written sizes it asks the layout tracer
(einlint/evidence/layout.py) how the receiver sits in memory and sorts the call into:

- ``untraced``: the receiver's layout is not known (an operation the model does not follow);
- ``row-major``: known (or taken) to be contiguous: a view is always possible;
- ``strided, possible``: a known strided layout, and the view is possible or not provably impossible;
- ``strided, impossible``: what EIN203 (``strided``) or EIN204 (``einsum``) report.

With ``--sample N`` it prints N strided calls (seeded) with their layout and verdict, for reading by
hand against the code.

    python benchmarks/view_layout_census.py ~/.cache/einlint-corpus/transformers ~/.cache/einlint-corpus/timm
"""

from __future__ import annotations

import argparse
import ast
import collections
import random
import sys
from pathlib import Path

from einlint.engine.candidates import find_candidates, hit_lines, trigger_pattern
from einlint.engine.context import FileAnalysis, layout_tracer, names_bound_inside
from einlint.engine.source import SourceText
from einlint.evidence.layout import target_sizes, view_conflict
from einlint.rules.base import Triggers


REORDERING = frozenset({"transpose", "permute", "swapaxes", "movedim", "expand", "t"})


def census(paths: list[Path]) -> tuple[collections.Counter, list[str], list[str]]:
    counts: collections.Counter = collections.Counter()
    strided: list[str] = []
    untraced: list[str] = []
    scanner = trigger_pattern(Triggers(names=frozenset({"view"})))
    for root in paths:
        for path in sorted(root.rglob("*.py")):
            try:
                source = SourceText.from_bytes(str(path), path.read_bytes())
                tree = ast.parse(source.text)
            except Exception:  # noqa: BLE001 - a census skips what does not parse
                counts["files that do not parse"] += 1
                continue
            lines = hit_lines(source.text, scanner, source.line_starts)
            if not lines:
                continue
            analysis = FileAnalysis(tree, [], frozenset(), text=source.text)
            for candidate in find_candidates(tree, lines, lambda words: "view" in words.names):
                tracer, chain = layout_tracer(analysis, candidate, names_bound_inside(candidate.node))
                for node in ast.walk(candidate.node):
                    if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "view"):
                        continue
                    target = target_sizes(list(node.args)) if node.args and not node.keywords else None
                    if target is None:
                        counts["sizes not written"] += 1
                        continue
                    layout = tracer.layout(node.func.value, chain)
                    if layout is None:
                        receiver = node.func.value
                        if isinstance(receiver, ast.Call) and isinstance(receiver.func, ast.Attribute) and receiver.func.attr in REORDERING:
                            counts["untraced, receiver reorders"] += 1
                            untraced.append(f"{path}:{node.lineno}\n    {ast.unparse(node)[:140]}")
                        else:
                            counts["untraced"] += 1
                    elif layout.is_row_major:
                        counts["row-major"] += 1
                    else:
                        conflict = view_conflict(layout, target)
                        verdict = "impossible" if conflict else "possible"
                        counts[f"strided, {verdict}"] += 1
                        where = f"{path}:{node.lineno}"
                        strided.append(
                            f"{where}\n    {ast.unparse(node)[:140]}\n    cause {layout.cause}; orders {layout.orders}; sizes {layout.sizes}; broadcast {sorted(layout.broadcast)} -> {verdict}"
                        )
    return counts, strided, untraced


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="+", type=Path)
    parser.add_argument("--sample", type=int, default=0)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    counts, strided, untraced = census(args.paths)
    for key, value in sorted(counts.items()):
        print(f"{key:28} {value:6}")
    if args.sample:
        print()
        for line in random.Random(args.seed).sample(strided, min(args.sample, len(strided))):
            print(line)
        print()
        for line in random.Random(args.seed).sample(untraced, min(args.sample, len(untraced))):
            print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
