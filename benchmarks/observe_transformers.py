#!/usr/bin/env python3
"""``einlint observe`` on real code: transformers models run under it, then what became of the
unsafe fixes (observed, withdrawn, unconfirmed, not observed) and what recording cost.

Standalone script, not a test. transformers ships no tests in its wheel, so the run is a small driver
(written to a temporary file) that builds a few models with tiny random configurations and runs them
forward and backward on CPU: prophetnet, fastspeech2_conformer, parakeet, nemotron_asr_streaming,
gemma3n (text) and gemma4 (audio), the families whose modeling files hold default findings with
unsafe fixes. The interpreter given with ``--python`` needs torch and transformers' own
dependencies (huggingface-hub, tokenizers, safetensors, regex, typer, tqdm, pyyaml, numpy); the
transformers sources come from ``--corpus`` (the directory that holds the ``transformers`` package).

    python benchmarks/observe_transformers.py --corpus ~/.cache/einlint-corpus/transformers \\
        --python /path/to/venv-with-transformers-deps/bin/python
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

DRIVER = """\
import torch
import transformers as tf

torch.manual_seed(0)
SMALL = dict(hidden_size=32, num_hidden_layers=1, num_attention_heads=4, intermediate_size=64)


def ids():
    return torch.randint(3, 99, (2, 9))


CASES = {
    "prophetnet": lambda: tf.ProphetNetModel(tf.ProphetNetConfig(
        vocab_size=99, hidden_size=32, encoder_ffn_dim=64, decoder_ffn_dim=64, num_encoder_layers=1, num_decoder_layers=1,
        num_encoder_attention_heads=4, num_decoder_attention_heads=4, ngram=2, num_buckets=8, relative_max_distance=16,
    ))(input_ids=ids(), decoder_input_ids=ids()).last_hidden_state,
    "fastspeech2_conformer": lambda: tf.FastSpeech2ConformerModel(tf.FastSpeech2ConformerConfig(
        vocab_size=99, hidden_size=32, encoder_layers=1, decoder_layers=1, encoder_linear_units=64, decoder_linear_units=64,
        encoder_num_attention_heads=2, decoder_num_attention_heads=2, num_mel_bins=8,
    )).eval()(input_ids=ids(), return_dict=True).spectrogram,
    "parakeet": lambda: tf.ParakeetEncoder(tf.ParakeetEncoderConfig(**SMALL, num_mel_bins=16))(input_features=torch.randn(2, 64, 16)).last_hidden_state,
    "nemotron_asr_streaming": lambda: tf.NemotronAsrStreamingEncoder(tf.NemotronAsrStreamingEncoderConfig(**SMALL, num_mel_bins=16))(
        input_features=torch.randn(2, 64, 16)
    ).last_hidden_state,
    "gemma3n_text": lambda: tf.Gemma3nTextModel(tf.Gemma3nTextConfig(
        vocab_size=99, vocab_size_per_layer_input=99, hidden_size=32, hidden_size_per_layer_input=8, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=2, head_dim=8, intermediate_size=64, laurel_rank=4, altup_num_inputs=2,
        num_kv_shared_layers=0, activation_sparsity_pattern=[0.0, 0.0], layer_types=["sliding_attention", "full_attention"],
    ))(input_ids=ids()).last_hidden_state,
    "gemma4_audio": lambda: tf.Gemma4AudioModel(tf.Gemma4AudioConfig(**SMALL))(torch.randn(2, 64, 128), torch.zeros(2, 64, dtype=torch.bool)).last_hidden_state,
}
for name, case in CASES.items():
    try:
        case().float().sum().backward()
        print("ran", name)
    except Exception as error:
        print("failed", name, type(error).__name__, str(error).splitlines()[0][:160])
"""


def timed(command: list[str], cwd: Path, environment: dict[str, str]) -> tuple[float, float, str]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    run = subprocess.run(command, cwd=cwd, env=environment, capture_output=True, text=True)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime, wall, run.stdout + run.stderr


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, required=True, help="the directory holding the transformers package")
    parser.add_argument("--python", default=sys.executable, help="an interpreter with torch and transformers' dependencies")
    args = parser.parse_args()
    corpus = args.corpus.expanduser().absolute()
    einlint_root = Path(__file__).resolve().parents[1]
    with tempfile.TemporaryDirectory() as folder:
        driver = Path(folder) / "drive.py"
        driver.write_text(DRIVER, encoding="utf-8")
        observations = Path(folder) / "observations.json"
        environment = dict(os.environ, PYTHONPATH=os.pathsep.join([str(corpus), str(einlint_root)]), OMP_NUM_THREADS="1")
        plain = timed([args.python, str(driver)], corpus, environment)
        observed = timed(
            [args.python, "-m", "einlint", "observe", "--observations", str(observations), "transformers", "--", args.python, str(driver)], corpus, environment
        )
        print(observed[2].strip())
        lint = subprocess.run(
            [sys.executable, "-m", "einlint", "--observations", str(observations), "--unsafe-fixes", "--format", "json", "transformers"],
            cwd=corpus, capture_output=True, text=True, env=dict(os.environ, PYTHONPATH=str(einlint_root)),
        )  # fmt: skip
    findings = json.loads(lint.stdout)
    unsafe_statuses = collections.Counter()
    for finding in findings:
        observed_status = (finding.get("observed") or {}).get("status")
        applicability = (finding["fix"] or {}).get("applicability")
        if observed_status in ("withdrawn", "not observed", "unconfirmed") or applicability == "observed":
            unsafe_statuses[observed_status] += 1
            if observed_status in ("withdrawn", "unconfirmed"):
                print(f"  {observed_status}: {finding['path']}:{finding['line']}: {finding['observed']['reason']}")
    print(f"plain run: CPU {plain[0]:.2f} s, wall {plain[1]:.2f} s; under einlint observe: CPU {observed[0]:.2f} s, wall {observed[1]:.2f} s")
    print(f"overhead: {observed[0] / plain[0]:.2f}x CPU, {observed[1] / plain[1]:.2f}x wall (linting the tree first included)")
    print(f"unsafe fixes: {sum(unsafe_statuses.values())}: " + ", ".join(f"{count} {status}" for status, count in sorted(unsafe_statuses.items())))


if __name__ == "__main__":
    main()
