"""A model build makes its items in a forked helper process: same records as made in process, errors reach the user.

The helper (cotgen.core.forked) reads each utterance back and computes its cue profile, prompt inputs and
fingerprint while the main process checks answers; these tests run the real build against the loopback server.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from loopback_server import LoopbackServer

import cotgen.build.run as build_run
from cotgen.build.run import BuildConfig, BuildSummary, run_build
from cotgen.core import forked
from cotgen.core.errors import CotgenError

pytestmark = pytest.mark.skipif(not forked.fork_available(), reason="the helper process is only forked on Linux")
OUTPUTS = ("traces.jsonl", "rejects.jsonl", "sft.jsonl", "utterances.jsonl")


@pytest.fixture
def server() -> Iterator[LoopbackServer]:
    with LoopbackServer() as srv:
        yield srv


def _build(srv: LoopbackServer, out: Path, cache: Path) -> BuildSummary:
    config = BuildConfig(
        teacher="openai:loopback",
        base_url=srv.base_url,
        out=out,
        cache=cache,
        progress=False,
        samples=2,
        timeout=5.0,
        concurrency=4,
    )
    return run_build(config)


def _pids_making_items(monkeypatch: pytest.MonkeyPatch, log: Path) -> None:
    """Note the process that prepares each utterance's items (in a file: the helper's memory is its own)."""
    real = build_run._fingerprinted

    def noting(*args, **kwargs):  # type: ignore[no-untyped-def]
        with log.open("a") as handle:
            handle.write(f"{os.getpid()}\n")
        return real(*args, **kwargs)

    monkeypatch.setattr(build_run, "_fingerprinted", noting)


def test_items_made_in_the_helper_give_the_records_made_in_process(
    tmp_path: Path, cache: Path, server: LoopbackServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    other_cache = tmp_path / "cache-2"
    shutil.copytree(cache, other_cache)
    log = tmp_path / "pids.txt"
    _pids_making_items(monkeypatch, log)

    helped = _build(server, tmp_path / "helped", cache)
    pids = set(log.read_text().split())
    assert pids and str(os.getpid()) not in pids  # the items were made in another process

    log.unlink()
    monkeypatch.setattr(forked, "fork_available", lambda: False)
    alone = _build(server, tmp_path / "alone", other_cache)
    assert set(log.read_text().split()) == {str(os.getpid())}

    assert helped.traces == alone.traces > 0
    for name in OUTPUTS:  # four requests at a time: the records are the same, in the order their answers came
        helped_lines = (tmp_path / "helped" / name).read_text().splitlines()
        assert sorted(helped_lines) == sorted((tmp_path / "alone" / name).read_text().splitlines()), name


def test_an_error_making_an_item_stops_the_build_with_its_message_and_keeps_what_was_done(
    tmp_path: Path, cache: Path, server: LoopbackServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = build_run._fingerprinted

    def failing(utt, position, *args, **kwargs):  # type: ignore[no-untyped-def]
        if position == 10:
            raise CotgenError(f"utterances.jsonl:{position + 1}: not a valid Utterance (made up by the test)")
        return real(utt, position, *args, **kwargs)

    monkeypatch.setattr(build_run, "_fingerprinted", failing)
    out = tmp_path / "out"
    with pytest.raises(CotgenError, match=r"^utterances.jsonl:11: not a valid Utterance \(made up by the test\)$"):
        _build(server, out, cache)
    kept = len((out / "traces.jsonl").read_text().splitlines())
    assert 0 < kept <= 30  # the first ten utterances' three items at most: nothing after the error was made
    assert len(server.chat_requests) == kept  # the answers in flight at the error were waited for and kept

    monkeypatch.setattr(build_run, "_fingerprinted", real)
    server.clear()
    summary = _build(server, out, cache)
    assert summary.skipped == kept and summary.traces == 72
    assert len(server.chat_requests) == 72 - kept  # the rerun asks only for what was not done
