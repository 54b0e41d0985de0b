"""The verifier's findings for people and tools: a rich table per fix, a JSON document, and a Markdown
report with an optional PNG chart of the speedups (matplotlib; skipped with a note when missing)."""

from __future__ import annotations

import io
import json
import math
from collections import Counter
from pathlib import Path

from einlint.verify.escaping import markdown_cell, markdown_code, markdown_text, printable
from einlint.verify.timing import Comparison
from einlint.verify.verifier import EQUIVALENT, NOT_EQUIVALENT, VERDICTS, FixVerification, PairVerdict

_VERDICT_STYLE = {EQUIVALENT: "green", NOT_EQUIVALENT: "bold red"}
# Characters of an expression shown in a table cell, and in the Markdown report; the JSON has it whole.
LONGEST_IN_TABLE = 160
LONGEST_SHOWN = 2000


def shortened(text: str, limit: int = LONGEST_IN_TABLE) -> str:
    """``text`` on one line, cut to ``limit`` characters with the count of those left out."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else f"{flat[:limit]}... ({len(flat) - limit} more characters)"


def to_json(verifications: list[FixVerification], fixed: int | None = None) -> str:
    document: dict = {"fixes": [item.to_dict() for item in verifications], "summary": _counts(verifications)}
    if fixed is not None:
        document["fixed"] = fixed
    return json.dumps(document, indent=2) + "\n"


def summary(verifications: list[FixVerification]) -> str:
    counts = _counts(verifications)
    if not verifications:
        return "No fixes to verify."
    parts = [f"{count} {verdict}" for verdict, count in counts.items() if count]
    cached = sum(item.result.cached for item in verifications)
    if cached:
        parts.append(f"{cached} from the cache")
    observed = sum(any(timing.observed for timing in item.result.timings) for item in verifications)
    if observed:
        parts.append(f"{observed} timed at observed shapes")
    devices = sorted({item.result.device for item in verifications if item.result.device})
    where = f" on {', '.join(devices)}" if devices else ""
    noun = "fix" if len(verifications) == 1 else "fixes"
    return f"Verified {len(verifications)} {noun}{where}: {', '.join(parts)}."


def _counts(verifications: list[FixVerification]) -> dict[str, int]:
    counts = Counter(item.result.verdict for item in verifications)
    return {verdict: counts.get(verdict, 0) for verdict in VERDICTS}


def render_table(verifications: list[FixVerification], width: int | None = None, color: bool = False) -> str:
    """The rich table as text (with ANSI colour when ``color``)."""
    from rich.console import Console

    buffer = io.StringIO()
    console = Console(file=buffer, width=width or 160, force_terminal=color, no_color=not color, highlight=False)
    console.print(build_table(verifications))
    return buffer.getvalue()


def build_table(verifications: list[FixVerification]):
    """Every cell is a ``Text``: source text and paths are never read as rich markup."""
    from rich.table import Table
    from rich.text import Text

    table = Table(title="einlint --verify", show_lines=True, title_justify="left")
    for header in ("Location", "Rule", "Verdict", "Max error", "Result layout", "Fwd speedup", "Fwd+bwd speedup", "Speed", "Device"):
        table.add_column(header, overflow="fold")
    for item in verifications:
        result = item.result
        verdict = Text(result.verdict + (" (cached)" if result.cached else ""), style=_VERDICT_STYLE.get(result.verdict, "yellow"))
        if result.reason and result.verdict != EQUIVALENT:
            verdict.append("\n" + printable(result.reason))
        if result.target:
            expressions = f"{shortened(result.original)} -> {shortened(result.rewritten)}"
            verdict.append(f"\nverified: {printable(shortened(result.target))}: {printable(expressions)}")
        for note in result.notes:
            if note.startswith("observed"):
                verdict.append("\n" + printable(note))
        assumptions = f" ({', '.join(item.assumptions)})" if item.assumptions else ""
        cells = (
            item.location, f"{item.code}\n{item.applicability}{assumptions}", None, _errors(result), _layout(result),
            "\n".join(_speedups(result, "forward")), "\n".join(_speedups(result, "backward")), result.speed or "",
            result.device,
        )  # fmt: skip
        table.add_row(*(verdict if cell is None else Text("\n".join(printable(line) for line in cell.split("\n"))) for cell in cells))
    return table


def _errors(result: PairVerdict) -> str:
    if result.max_error is None:
        return ""
    text = f"{result.max_error:.1e}"
    if result.grad_error is not None:
        text += f"\ngrad {result.grad_error:.1e}"
    return text


def _layout(result: PairVerdict) -> str:
    if result.contiguous is None:
        return ""
    names = ["contiguous" if flag else "strided view" for flag in result.contiguous]
    return names[0] if names[0] == names[1] else f"{names[0]} -> {names[1]}"


def _speedups(result: PairVerdict, which: str) -> list[str]:
    lines = []
    for timing in result.timings:
        comparison: Comparison | None = getattr(timing, which)
        if comparison is not None:
            label = "" if not comparison.stable else f" {comparison.label}"
            lines.append(f"{_case(timing)} {_shown_ratio(comparison)}{label}")
    return lines


def _case(timing) -> str:
    """The case's name, with the shapes where they are the ones ``einlint observe`` recorded."""
    if not timing.observed:
        return timing.case
    return f"{timing.case} ({' '.join('x'.join(str(size) for size in shape) or '()' for shape in timing.shapes)})"


def _ratio(value: float) -> str:
    return "inf" if math.isinf(value) else f"{value:.2f}x"


def _shown_ratio(comparison: Comparison) -> str:
    """The ratio only where its measurement settled: an unstable one is not a figure to quote."""
    return _ratio(comparison.ratio) if comparison.stable else "unstable"


def _seconds(value: float) -> str:
    if value >= 1e-3:
        return f"{value * 1e3:.2f} ms"
    return f"{value * 1e6:.1f} us"


def markdown_table(verifications: list[FixVerification], location: bool = True) -> str:
    """One row per fix and shape: verdict, max error, forward and forward+backward medians and ratios."""
    header = ["Location"] if location else []
    header += ["Rule", "Verdict", "Max error", "Shape", "Operand shapes", "Fwd original", "Fwd rewritten", "Fwd speedup",
               "Fwd+bwd original", "Fwd+bwd rewritten", "Fwd+bwd speedup"]  # fmt: skip
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for item in verifications:
        result = item.result
        error = f"{result.max_error:.1e}" if result.max_error is not None else ""
        verdict = result.verdict if result.verdict == EQUIVALENT else f"{result.verdict}: {result.reason}"
        if result.cached:
            verdict += " (cached)"
        rows = result.timings or (None,)
        for timing in rows:
            cells = [markdown_cell(item.location)] if location else []
            cells += [markdown_cell(item.code), markdown_cell(verdict), error]
            if timing is None:
                cells += [""] * 8
            else:
                shapes = " ".join("x".join(str(size) for size in shape) or "()" for shape in timing.shapes)
                case = f"{timing.case} (at observed shapes)" if timing.observed else timing.case
                cells += [markdown_cell(case), shapes, *_medians(timing.forward), *_medians(timing.backward)]
            lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def _medians(comparison: Comparison | None) -> list[str]:
    if comparison is None:
        return ["", "", ""]
    if not comparison.stable:
        shown = f"unstable (interval {comparison.width:.0%} of the ratio)"
    else:
        shown = f"{_ratio(comparison.ratio)} ({comparison.label}, noise {comparison.noise:.0%})"
    return [_seconds(comparison.original.median), _seconds(comparison.rewritten.median), shown]


def write_markdown(verifications: list[FixVerification], path: Path) -> list[str]:
    """Write the Markdown report (and ``<path>.png`` beside it when matplotlib is installed); return
    notes for the user, such as a chart that was skipped."""
    notes: list[str] = []
    chart = path.with_suffix(".png")
    chart_written = False
    if any(item.result.timings for item in verifications):
        chart_written, note = write_chart(verifications, chart)
        if note:
            notes.append(note)
    lines = ["# einlint --verify report", ""]
    first = next((item.result for item in verifications if item.result.device), None)
    if first is not None:
        lines += [
            f"- Device: {markdown_text(first.device)}",
            f"- torch {first.torch_version}; float32 matmul precision during timing: {first.float32_matmul_precision or 'n/a'}"
            " (the equivalence check always runs with TF32 off)",
        ]  # fmt: skip
    lines += [f"- {markdown_text(summary(verifications))}", "",
              "Speedup = original time / rewritten time (above 1: the rewrite is faster). A fix is called faster or "
              "slower only where the ratio differs from 1 by more than the noise measured for it; a ratio whose "
              "interval did not settle is shown as unstable. A shape marked \"at observed shapes\" ran at operand shapes, "
              "dtype and layout that `einlint observe` recorded at the fix's statement; the others are synthetic.", ""]  # fmt: skip
    lines.append(markdown_table(verifications))
    if chart_written:
        lines += [f"![speedups per fix and shape]({chart.name})", ""]
    for note in notes:
        lines += [f"> {markdown_text(note)}", ""]
    lines += ["## Fixes", ""]
    for item in verifications:
        result = item.result
        cached = " (cached)" if result.cached else ""
        lines += [f"### {markdown_text(item.location)} {item.code} - {result.verdict}{cached}", ""]
        if result.target:
            lines.append(f"- verified: {markdown_text(shortened(result.target))}")
        lines += [
            f"- original: {markdown_code(shortened(result.original, LONGEST_SHOWN))}",
            f"- rewritten: {markdown_code(shortened(result.rewritten, LONGEST_SHOWN))}",
        ]
        if item.assumptions:
            assumed = markdown_text(", ".join(item.assumptions))
            lines.append(f"- fix applicability: {item.applicability}, assumes {assumed} (not established by verification)")
        if result.reason:
            lines.append(f"- {markdown_text(result.reason)}")
        if result.contiguous is not None:
            lines.append(f"- result layout: {_layout(result)}")
        lines += [f"- note: {markdown_text(note)}" for note in result.notes]
        lines.append("")
    path.write_text("\n".join(lines), encoding="utf-8")
    return notes


def write_chart(verifications: list[FixVerification], path: Path) -> tuple[bool, str]:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False, "The speedup chart was skipped: matplotlib is not installed (pip install matplotlib)."
    timed = [item for item in verifications if item.result.timings]
    shapes = list(dict.fromkeys(timing.case for item in timed for timing in item.result.timings))
    figure, axes = plt.subplots(1, 2, figsize=(max(6.0, 1.6 * len(timed) * len(shapes) / 2 + 3), 4), sharey=True)
    width = 0.8 / max(1, len(shapes))
    for axis, which, title in ((axes[0], "forward", "forward"), (axes[1], "backward", "forward+backward")):
        for index, shape in enumerate(shapes):
            values = []
            for item in timed:
                timing = next((t for t in item.result.timings if t.case == shape), None)
                comparison = getattr(timing, which) if timing else None
                values.append(comparison.ratio if comparison and comparison.stable else math.nan)
            positions = [position + index * width for position in range(len(timed))]
            # Bars start at 1 (no change): a slowdown points down, a speedup up, on a log scale.
            axis.bar(positions, [value - 1.0 for value in values], width, bottom=1.0, label=shape)
        axis.axhline(1.0, color="black", linewidth=0.8)
        axis.set_xticks([position + 0.4 - width / 2 for position in range(len(timed))])
        # A "$" in a file name would start matplotlib's mathtext.
        names = [printable(Path(item.path).name).replace("$", r"\$") for item in timed]
        axis.set_xticklabels([f"{item.code}\n{name}:{item.line}" for item, name in zip(timed, names)], fontsize=7)
        axis.set_yscale("log")
        axis.set_title(f"speedup, {title}")
    axes[0].set_ylabel("original time / rewritten time")
    axes[0].legend(title="shape")
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)
    return True, ""
