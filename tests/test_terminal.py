"""What a person sees in an 80-column terminal: the build run in a real pseudo-terminal, its screen emulated.

``cotgen build`` runs as a child process on a pty of 24 x 80 (pexpect), so rich sees a real terminal and redraws
its live line with cursor moves; pyte replays the bytes onto a screen of the same size, which is what a terminal
would show. The unit tests of :mod:`cotgen.build.progress` check the line as a string; these check it as seen.
"""

from __future__ import annotations

import os
import re
import shutil
import sys
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from loopback_server import LoopbackServer

from cotgen.build.progress import ELLIPSIS, BuildProgress, progress_line, status_text

pexpect = pytest.importorskip("pexpect")
pyte = pytest.importorskip("pyte")

COLUMNS, ROWS = 80, 24
COTGEN = shutil.which("cotgen", path=str(Path(sys.executable).parent)) or "cotgen"
# The live line once the build is over: all items, 100 %, elapsed and ETA clocks, the full bar.
DONE_LINE = re.compile(r"^build 24/24 100% \d+:\d\d:\d\d ETA \d+:\d\d:\d\d ━{10}")


def _environment(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES", "NO_COLOR", "OPENAI_BASE_URL")}
    env.update(TERM="xterm-256color", XDG_CACHE_HOME=str(tmp_path / "xdg"), OPENAI_API_KEY="sk-test-terminal")
    return env


def _spawn(args: list[str], tmp_path: Path) -> pexpect.spawn:
    return pexpect.spawn(
        COTGEN, args, cwd=str(tmp_path), env=_environment(tmp_path), dimensions=(ROWS, COLUMNS), timeout=180
    )


def _screen(raw: bytes) -> list[str]:
    """The terminal's screen after ``raw`` (tall enough that nothing scrolls away), lines right-stripped."""
    screen = pyte.Screen(COLUMNS, 400)
    pyte.ByteStream(screen).feed(raw)
    return [line.rstrip() for line in screen.display]


def _run_to_end(child: pexpect.spawn) -> bytes:
    child.expect(pexpect.EOF)
    child.close()
    return child.before


def test_a_template_build_shows_one_80_column_progress_line_without_tokens(tmp_path: Path) -> None:
    child = _spawn(["build", "--out", "run", "--cache", str(tmp_path / "cache"), "--workers", "1"], tmp_path)
    lines = _screen(_run_to_end(child))
    assert child.exitstatus == 0, "\n".join(lines)
    progress = [line for line in lines if line.startswith("build ")]
    assert len(progress) == 1 and DONE_LINE.match(progress[0]), "\n".join(lines)
    # One line, not wrapped: what follows it is the summary, not the rest of a cut line.
    after = lines[lines.index(progress[0]) + 1]
    assert after.startswith("run: 24 traces, 0 rejects"), "\n".join(lines)
    assert "tokens" not in "\n".join(lines) and "$" not in "\n".join(lines)
    assert any(line.startswith("offline template teacher (rule-generated traces),") for line in lines)


INTERRUPTED = re.compile(
    r"interrupted: (\d+) done, (\d+) left; (.*); rerun the same command to resume \(it asks only for what was never "
    r"answered\)$"
)


def _interrupted(lines: list[str]) -> tuple[int, int, str]:
    """done, left and the in-flight clause of the one ``interrupted:`` message on the screen (wrapped at 80 columns)."""
    starts = [i for i, line in enumerate(lines) if line.startswith("interrupted: ")]
    assert len(starts) == 1, "\n".join(lines)
    message = lines[starts[0]]
    for line in lines[starts[0] + 1 :]:
        if not line:
            break
        message += line if len(message) % COLUMNS == 0 else " " + line
    match = INTERRUPTED.match(message)
    assert match, message
    return int(match[1]), int(match[2]), match[3]


def test_ctrl_c_keeps_every_answer_in_flight_and_a_rerun_asks_only_for_the_rest(tmp_path: Path) -> None:
    """Issue 22 item 3: requests made = answers kept, none lost; the rerun asks for exactly what was never asked."""
    cache = str(tmp_path / "cache")
    with LoopbackServer(latency=0.5) as srv:
        args = ["build", "--teacher", "openai:m", "--base-url", srv.base_url, "--concurrency", "4", "--cache", cache]
        child = _spawn([*args, "--out", "run", "--workers", "1"], tmp_path)
        child.expect(r"build [3-9]/24")  # a few items answered, four more in flight, most still to do
        child.sendintr()
        lines = _screen(_run_to_end(child))
        port = srv.port
        asked = len(srv.chat_requests)
        answered = [r for r in srv.chat_requests if r.status == 200]
    assert child.exitstatus == 130, "\n".join(lines)
    done, left, flight = _interrupted(lines)
    assert done + left == 24 and done >= 3
    in_flight = int(re.match(r"(\d+) of (\d+) answers in flight awaited and kept$", flight)[2])  # type: ignore[index]
    assert flight == f"{in_flight} of {in_flight} answers in flight awaited and kept" and in_flight >= 1
    traces = (tmp_path / "run" / "traces.jsonl").read_text(encoding="utf-8").splitlines()
    rejects = (tmp_path / "run" / "rejects.jsonl").read_text(encoding="utf-8").splitlines()
    # Every request sent was answered and every answer became a record: nothing paid for was thrown away.
    assert asked == len(answered) == len(traces) + len(rejects) == done
    assert "interrupted: " in (tmp_path / "run" / "cotgen.log").read_text(encoding="utf-8")
    live = [line for line in lines if line.startswith("build ")]
    assert live and "tokens" in live[-1] and len(live[-1]) <= COLUMNS
    # The same command: the same server URL (another one would make every item stale, its fingerprint changed).
    with LoopbackServer(port=port) as srv:
        args = ["build", "--teacher", "openai:m", "--base-url", srv.base_url, "--cache", cache, "--out", "run"]
        child = _spawn(args, tmp_path)
        lines = _screen(_run_to_end(child))
        assert child.exitstatus == 0, "\n".join(lines)
        assert len(srv.chat_requests) == left == 24 - asked, "only what was never asked is asked now"
    assert any(f"{done} already done" in line for line in lines), "\n".join(lines)


def test_a_second_ctrl_c_abandons_the_answers_in_flight_at_once(tmp_path: Path) -> None:
    cache = str(tmp_path / "cache")
    with LoopbackServer(latency=30.0) as srv:
        args = ["build", "--teacher", "openai:m", "--base-url", srv.base_url, "--concurrency", "3", "--cache", cache]
        child = _spawn([*args, "--out", "run", "--workers", "1", "--timeout", "60"], tmp_path)
        while len(srv.chat_requests) < 3:
            child.expect([pexpect.TIMEOUT], timeout=0.2)
        child.sendintr()
        child.expect(r"stopping: nothing new is sent; waiting up to 62 s for the 3 answers in flight")
        child.sendintr()
        lines = _screen(_run_to_end(child))
        assert len(srv.chat_requests) == 3, "nothing was sent after the first Ctrl-C"
    assert child.exitstatus == 130, "\n".join(lines)
    done, left, flight = _interrupted(lines)
    assert (done, left) == (0, 24)
    assert flight == "0 of 3 answers in flight awaited and kept, 3 abandoned (the server may still bill them)"


@given(
    completed=st.integers(0, 10**6),
    extra=st.integers(0, 10**6),
    elapsed=st.none() | st.floats(0, 10**6),
    remaining=st.none() | st.floats(0, 10**6),
    counters=st.tuples(*[st.integers(0, 10**7)] * 5),
    width=st.integers(60, 200),
)
def test_the_line_fits_and_keeps_its_head(
    completed: int,
    extra: int,
    elapsed: float | None,
    remaining: float | None,
    counters: tuple[int, int, int, int, int],
    width: int,
) -> None:
    status = status_text(*counters)
    line = progress_line(completed, completed + extra, elapsed, remaining, status, width)
    assert len(line) <= width
    assert line.startswith(f"build {completed}/{completed + extra} ")
    assert " ETA " in line
    if status and not line.endswith(status):
        assert line.endswith(ELLIPSIS)


def test_counters_appear_only_when_non_zero() -> None:
    assert status_text(0, 0, 0, 0, 0) == ""
    assert status_text(2, 0, 0, 0, 0) == "rejected 2"
    assert status_text(0, 1, 3, 1448, 314) == "repairing 1 · HTTP retries 3 · tokens 1.4k in, 314 out"
    assert status_text(0, 0, 0, 2_500_000, 999) == "tokens 2.5M in, 999 out"


def test_ctrl_c_in_predict_keeps_the_answers_in_flight_and_says_so(tmp_path: Path) -> None:
    from loopback_server import student_responder

    cache = str(tmp_path / "cache")
    built = _spawn(["build", "--out", "run", "--cache", cache, "--workers", "1", "--no-progress"], tmp_path)
    _run_to_end(built)
    assert built.exitstatus == 0
    with LoopbackServer(latency=0.5, responder=student_responder) as srv:
        args = ["predict", "--in", "run", "--model", "openai:m", "--base-url", srv.base_url, "--cache", cache]
        child = _spawn([*args, "--concurrency", "2"], tmp_path)
        while len([r for r in srv.chat_requests if r.status == 200]) < 3:
            child.expect([pexpect.TIMEOUT], timeout=0.1)
        child.sendintr()
        lines = _screen(_run_to_end(child))
        asked = len(srv.chat_requests)
        answered = len([r for r in srv.chat_requests if r.status == 200])
    assert child.exitstatus == 130, "\n".join(lines)
    done, left, flight = _interrupted(lines)
    assert done + left == 24 and asked == answered == done, "every request sent was answered and kept"
    assert flight.endswith("answers in flight awaited and kept")
    written = (tmp_path / "run" / "predictions.jsonl").read_text(encoding="utf-8").splitlines()
    assert len(written) == done


def test_the_line_is_redrawn_when_the_clients_totals_change_and_only_then() -> None:
    """A cached answer leaves the client's totals as they were: the line shown is always the current one."""
    with BuildProgress(10, False) as progress:
        shown = [progress._status()]
        progress._refresh = lambda advance=0: shown.append(progress._status())  # type: ignore[method-assign]
        for totals in [(0, 0, 0), (0, 1200, 300), (0, 1200, 300), (1, 1200, 300), (1, 1200, 300), (1, 1500, 400)]:
            progress.network(*totals)
            assert shown[-1] == progress._status()
        assert shown[1:] == ["tokens 1.2k in, 300 out", "HTTP retries 1 · tokens 1.2k in, 300 out", shown[-1]]
        assert len(shown) == 4
