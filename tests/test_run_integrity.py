"""A run folder stays coherent across commands (issue 11 items 3 and 6).

Item 3: the sections that pairs, grpo, stats and export write into run.json survive a rebuild, every
derived file records the fingerprint of the traces it came from, and the card, export and publish name a
stale dpo.jsonl/grpo.jsonl/export, export and publish refusing it unless --allow-stale.
Item 6: one writer at a time: a second writer gets one line naming the holder's pid and command, and
run.json updates from several processes at once all land.
"""

from __future__ import annotations

import csv
import json
import multiprocessing
import os
import subprocess
import sys
import time
from pathlib import Path

from typer.testing import CliRunner

from cotgen.cli.main import get_app
from cotgen.core.durable_files import read_run_json, update_run_json
from cotgen.core.paths import CORPORA_DIR
from cotgen.core.run_lock import HOLDER_FILE, RunLockedError, run_lock

ROOT = Path(__file__).resolve().parent.parent


def _cli(*args: str):
    return CliRunner().invoke(get_app(), list(args))


def _manifest(path: Path, votes: dict[str, str]) -> Path:
    rows = list(csv.DictReader((CORPORA_DIR / "demo" / "manifest.csv").open(encoding="utf-8")))
    for row in rows:
        row["audio"] = str(CORPORA_DIR / "demo" / row["audio"])
        row["votes"] = votes.get(row["id"], row["votes"])
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


def _ok(result) -> str:
    assert result.exit_code == 0, f"{result.output}\n{result.exception!r}"
    return result.output


def test_a_rebuild_keeps_every_section_and_stale_derived_files_are_named_and_refused(tmp_path: Path) -> None:
    run, cache = tmp_path / "run", tmp_path / "cache"
    before = _manifest(tmp_path / "before" / "manifest.csv", {})
    after = _manifest(tmp_path / "after" / "manifest.csv", {"demo_spk1_02": "sad;sad;sad;neu;sad"})
    build = ["build", "--corpus", "manifest", "--out", str(run), "--cache", str(cache), "--samples", "2"]
    _ok(_cli(*build, "--root", str(before), "--no-progress"))
    for command in (["pairs"], ["grpo"], ["stats"], ["export", "--format", "trl"]):
        _ok(_cli(*command, "--in", str(run)))
    sections = {"pairs", "grpo", "stats", "export"}
    made_from = read_run_json(run)["traces_fingerprint"]
    assert all(read_run_json(run)[s].get("traces_fingerprint", made_from) == made_from for s in sections)
    assert read_run_json(run)["export"]["trl"]["traces_fingerprint"] == made_from

    # A rebuild with nothing changed: the sections stay and nothing is stale.
    _ok(_cli(*build, "--root", str(before), "--no-progress"))
    assert sections <= set(read_run_json(run)) and "Stale" not in (run / "README.md").read_text()

    # One utterance's votes change: its traces are redone, so dpo.jsonl and grpo.jsonl no longer match them.
    _ok(_cli(*build, "--root", str(after), "--no-progress"))
    info = read_run_json(run)
    assert sections <= set(info), "a rebuild must not drop the other commands' sections"
    assert info["counts"]["this_run"]["stale"] == 3
    card = (run / "README.md").read_text()
    assert f"`dpo.jsonl` was made from older traces than the run's; `cotgen pairs --in {run}` refreshes it" in card
    assert f"`grpo.jsonl` was made from older traces than the run's; `cotgen grpo --in {run}` refreshes it" in card
    refused = _cli("export", "--format", "trl", "--in", str(run))
    assert refused.exit_code != 0 and f"cotgen pairs --in {run}" in str(refused.exception)
    assert "--allow-stale" in str(refused.exception)
    forced = tmp_path / "forced"
    _ok(_cli("export", "--format", "trl", "--in", str(run), "--out", str(forced), "--allow-stale"))
    assert json.loads((forced / "export.json").read_text())["stale_inputs"] == ["dpo.jsonl", "grpo.jsonl"]
    # The manifests in tmp name the demo's clips, outside their corpus root: publish needs the flag for them.
    publish = ["publish", "--repo", "me/demo", "--dry-run", "--confirm-license", "--allow-outside-root"]
    refused = _cli(*publish, "--in", str(forced))
    assert refused.exit_code != 0 and "cotgen export --in" in str(refused.exception)
    refused = _cli(*publish, "--in", str(run))
    assert refused.exit_code != 0 and f"cotgen pairs --in {run}" in str(refused.exception)

    # Refreshing the derived files clears every complaint.
    for command in (["pairs"], ["grpo"]):
        _ok(_cli(*command, "--in", str(run)))
    fresh = tmp_path / "fresh"
    _ok(_cli("export", "--format", "trl", "--in", str(run), "--out", str(fresh)))
    _ok(_cli(*publish, "--in", str(fresh)))
    _ok(_cli(*publish, "--in", str(run)))
    assert "Stale" not in (run / "README.md").read_text()


def _hold(run_dir: str, ready: str) -> None:
    with run_lock(Path(run_dir), "cotgen build"):
        Path(ready).write_text("held")
        time.sleep(60)


def test_a_second_writer_is_refused_with_the_holders_pid_and_command(tmp_path: Path) -> None:
    run = tmp_path / "run"
    ready = tmp_path / "ready"
    holder = multiprocessing.get_context("spawn").Process(target=_hold, args=(str(run), str(ready)))
    holder.start()
    try:
        deadline = time.monotonic() + 60
        while not ready.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert ready.exists(), "the holder never took the lock"
        result = _cli("build", "--out", str(run), "--no-progress")
        assert result.exit_code != 0
        message = str(result.exception)
        assert f"is being written by pid {holder.pid} (cotgen build, since " in message
        assert "\n" not in message
        predict = ["predict", "--model", "openai:student", "--base-url", "http://127.0.0.1:9/v1"]
        for command in (["pairs"], ["grpo"], ["export", "--format", "trl"], ["review"], predict):
            refused = _cli(*command, "--in", str(run))
            assert isinstance(refused.exception, RunLockedError), command
    finally:
        holder.kill()
        holder.join()
    # The holder was killed without releasing anything: the operating system dropped its lock.
    assert (run / HOLDER_FILE).exists()
    with run_lock(run, "cotgen test"):
        assert json.loads((run / HOLDER_FILE).read_text())["pid"] == os.getpid()


def test_two_real_builds_at_once_pay_once(tmp_path: Path) -> None:
    """Two `cotgen build` processes into one folder: one builds and pays, the other stops at once with one line.

    The teacher is a loopback server answering in 0.25 s one request at a time, so the first build is still
    asking (and holding the lock) when the second starts, however fast the machine.
    """
    from loopback_server import LoopbackServer

    run, cache = tmp_path / "run", tmp_path / "cache"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    with LoopbackServer(latency=0.25) as srv:
        command = [sys.executable, "-m", "cotgen", "build", "--out", str(run), "--cache", str(cache), "--no-progress"]
        command += ["--teacher", "openai:loopback", "--base-url", srv.base_url, "--concurrency", "1"]
        first = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        deadline = time.monotonic() + 120
        while not srv.chat_requests and first.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
        assert first.poll() is None, "the first build ended before it asked the teacher"
        second = subprocess.run(command, capture_output=True, text=True, env=env, timeout=300)
        out, err = first.communicate(timeout=300)
        requests = len(srv.chat_requests)
    assert first.returncode == 0, err
    assert second.returncode != 0 and f"is being written by pid {first.pid} (cotgen build" in second.stderr
    lines = (run / "traces.jsonl").read_text().splitlines()
    assert len(lines) == len({(json.loads(x)["id"], json.loads(x)["sample"]) for x in lines}) == 24
    assert requests == 24  # paid once: the second build asked nothing


def _update_many(run_dir: str, worker: int) -> None:
    for i in range(15):
        update_run_json(Path(run_dir), f"w{worker}_{i}", {"worker": worker, "i": i})


def test_concurrent_run_json_updates_all_land(tmp_path: Path) -> None:
    context = multiprocessing.get_context("spawn")
    workers = [context.Process(target=_update_many, args=(str(tmp_path), w)) for w in range(4)]
    for p in workers:
        p.start()
    for p in workers:
        p.join(timeout=120)
        assert p.exitcode == 0
    info = read_run_json(tmp_path)
    assert {f"w{w}_{i}" for w in range(4) for i in range(15)} <= set(info)
