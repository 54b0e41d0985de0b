"""Verdicts are cached on disk under $EINLINT_CACHE_DIR: a second run of the same check is a cache hit,
and anything the verdict depends on is part of the key."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

pytest.importorskip("torch")

from einlint.verify.verifier import EQUIVALENT, VerifyOptions, verify_pair  # noqa: E402

OPTIONS = VerifyOptions(profiles=("tiny",), timing=False)
ORIGINAL = "torch.bmm(q, k.transpose(1, 2))"
REWRITTEN = "torch.einsum('bqd,bkd->bqk', q, k)"


def test_a_second_run_is_a_cache_hit(private_result_cache: Path) -> None:
    first = verify_pair(ORIGINAL, REWRITTEN, options=OPTIONS)
    second = verify_pair(ORIGINAL, REWRITTEN, options=OPTIONS)
    assert (first.cached, second.cached) == (False, True)
    assert replace(second, cached=False) == first
    assert list((private_result_cache / "verify").glob("*.json"))


def test_operand_names_and_torch_aliases_do_not_matter() -> None:
    verify_pair(ORIGINAL, REWRITTEN, options=OPTIONS)
    renamed = verify_pair("torch.bmm(query, key.transpose(1, 2))", "torch.einsum('bqd,bkd->bqk', query, key)", options=OPTIONS)
    assert renamed.cached and renamed.verdict == EQUIVALENT
    assert renamed.original == "torch.bmm(query, key.transpose(1, 2))"  # shown as written here


@pytest.mark.parametrize(
    "changed",
    [
        pytest.param(replace(OPTIONS, dtypes=("float64",)), id="dtypes"),
        pytest.param(replace(OPTIONS, profiles=("tiny", "medium")), id="shapes"),
        pytest.param(replace(OPTIONS, timing=True, min_run_time=0.001), id="timing"),
    ],
)
def test_what_the_verdict_depends_on_is_in_the_key(changed: VerifyOptions) -> None:
    verify_pair(ORIGINAL, REWRITTEN, options=OPTIONS)
    assert not verify_pair(ORIGINAL, REWRITTEN, options=changed).cached


def test_a_different_rewrite_is_not_served_from_the_cache() -> None:
    verify_pair(ORIGINAL, REWRITTEN, options=OPTIONS)
    assert not verify_pair(ORIGINAL, "torch.einsum('bqd,bkd->bkq', q, k)", options=OPTIONS).cached


def test_the_cache_directory_follows_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EINLINT_CACHE_DIR", str(tmp_path / "elsewhere"))
    verify_pair(ORIGINAL, REWRITTEN, options=OPTIONS)
    assert list((tmp_path / "elsewhere" / "verify").glob("*.json"))


def test_no_cache_neither_reads_nor_writes(private_result_cache: Path) -> None:
    uncached = replace(OPTIONS, use_cache=False)
    verify_pair(ORIGINAL, REWRITTEN, options=uncached)
    assert not (private_result_cache / "verify").exists()
    assert not verify_pair(ORIGINAL, REWRITTEN, options=uncached).cached


def test_a_damaged_entry_is_verified_again(private_result_cache: Path) -> None:
    verify_pair(ORIGINAL, REWRITTEN, options=OPTIONS)
    for entry in (private_result_cache / "verify").glob("*.json"):
        entry.write_text("{not json", encoding="utf-8")
    again = verify_pair(ORIGINAL, REWRITTEN, options=OPTIONS)
    assert not again.cached and again.verdict == EQUIVALENT


def _entries(cache: Path) -> list[Path]:
    return sorted((cache / "verify").glob("*.json"))


def test_an_edited_entry_is_ignored(private_result_cache: Path) -> None:
    import json

    first = verify_pair(ORIGINAL, REWRITTEN, options=OPTIONS)
    (entry,) = _entries(private_result_cache)
    stored = json.loads(entry.read_text(encoding="utf-8"))
    stored["verdict"]["reason"] = "1000x faster, trust me"
    entry.write_text(json.dumps(stored), encoding="utf-8")
    again = verify_pair(ORIGINAL, REWRITTEN, options=OPTIONS)
    assert not again.cached and again.reason == first.reason


def test_an_entry_copied_under_another_key_is_ignored(private_result_cache: Path) -> None:
    verify_pair(ORIGINAL, REWRITTEN, options=OPTIONS)
    (entry,) = _entries(private_result_cache)
    wrong = "torch.einsum('bqd,bkd->bkq', q, k)"
    verify_pair(ORIGINAL, wrong, options=OPTIONS)
    (other,) = [path for path in _entries(private_result_cache) if path != entry]
    other.write_bytes(entry.read_bytes())  # the equivalent verdict, under the wrong rewrite's key
    assert verify_pair(ORIGINAL, wrong, options=OPTIONS).verdict != EQUIVALENT


def test_not_reading_the_cache_verifies_again_and_replaces_the_entry(private_result_cache: Path) -> None:
    from einlint.verify.cache import VerdictCache

    verify_pair(ORIGINAL, REWRITTEN, options=OPTIONS)
    (entry,) = _entries(private_result_cache)
    key = entry.stem
    cache = VerdictCache(private_result_cache)
    stale = dict(cache.get(key), reason="a stale verdict")
    cache.put(key, stale)  # a well-formed entry whose figures are out of date
    assert verify_pair(ORIGINAL, REWRITTEN, options=OPTIONS).reason == "a stale verdict"
    fresh = verify_pair(ORIGINAL, REWRITTEN, options=replace(OPTIONS, read_cache=False))
    assert not fresh.cached and fresh.reason != "a stale verdict"
    served = verify_pair(ORIGINAL, REWRITTEN, options=OPTIONS)
    assert served.cached and served.reason == fresh.reason
