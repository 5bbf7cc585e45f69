"""A model build makes its items in a forked helper process: same records as made in process, errors reach the user.

The helper (cotgen.core.forked) reads each utterance back and computes its cue profile, prompt inputs and
fingerprint while the main process checks answers; these tests run the real build against the loopback server.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
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


_KILLED_BUILD = """
import sys
from pathlib import Path
from cotgen.build.run import BuildConfig, run_build
run_build(BuildConfig(teacher="openai:loopback", base_url=sys.argv[1], out=Path(sys.argv[2]), cache=Path(sys.argv[3]),
                      samples=8, concurrency=2, progress=False))
"""


def _forked_children(pid: int) -> list[int]:
    """The processes forked by ``pid`` without a new program: same command line (multiprocessing's resource
    tracker, also a child, runs its own)."""
    command = Path(f"/proc/{pid}/cmdline").read_bytes()
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:  # the process ended while the folder was read
            continue
        if int(fields[1]) == pid and (stat.parent / "cmdline").read_bytes() == command:
            found.append(int(stat.parent.name))
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_the_helper_ends_when_the_build_is_killed(tmp_path: Path, cache: Path) -> None:
    # 216 items (24 utterances, gold and 8 samples) do not fit in the pipe: the helper is still there, blocked on it.
    out = tmp_path / "run"
    with LoopbackServer(latency=0.15) as srv:
        build = subprocess.Popen([sys.executable, "-c", _KILLED_BUILD, srv.base_url, str(out), str(cache)])
        try:
            helpers = _helpers_once_teaching(build, out / "traces.jsonl")
        finally:
            build.kill()  # the test's kill, and no build left running when an assertion fails
            build.wait()
    gone_by = time.monotonic() + 10
    while _alive(helpers[0]) and time.monotonic() < gone_by:
        time.sleep(0.05)
    assert not _alive(helpers[0])  # its pipe's reader is gone: the helper ended instead of waiting forever


def _helpers_once_teaching(build: subprocess.Popen, traces: Path) -> list[int]:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and build.poll() is None:
        if traces.exists() and traces.read_text().count("\n") >= 2:
            helpers = _forked_children(build.pid)
            assert len(helpers) == 1, helpers
            return helpers
        time.sleep(0.02)
    raise AssertionError("the build ended before it could be killed")
