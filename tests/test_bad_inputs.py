"""The bad-input catalogue (docs/reliability-performance.md): every bad input a user can give, and what they see.

Each test drives the real entry point of the ``cotgen`` console script (:func:`cotgen.cli.main.main`,
in process, so the suite stays fast; one test runs the installed script in a subprocess to show the
same), and asserts the user gets either ONE line on stderr naming the file or option and what was
expected (exit status 2), or a finished run whose rejects/summary records the item with its reason.
An exception escaping ``main`` is exactly the traceback a user would see, so it fails the test.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from huggingface_hub import constants as hub_constants
from loopback_server import LoopbackServer

from cotgen.core.paths import CORPORA_DIR

DEMO = CORPORA_DIR / "demo"
# The console script of the interpreter running the tests (the venv's), else the one on PATH.
COTGEN = shutil.which("cotgen", path=str(Path(sys.executable).parent)) or "cotgen"


def demo_rows() -> list[dict[str, str]]:
    with (DEMO / "manifest.csv").open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    for row in rows:
        row["audio"] = str(DEMO / row["audio"])
    return rows


def write_manifest(path: Path, rows: list[dict[str, str]]) -> Path:
    fields = list(dict.fromkeys(key for row in rows for key in row))
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)
    return path


def build_args(root: Path, out: Path, cache: Path, *extra: str) -> list[str]:
    return ["build", "--corpus", "manifest", "--root", str(root), "--out", str(out), "--cache", str(cache)] + [
        "--workers",
        "1",
        "--no-progress",
        *extra,
    ]


def jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def closed_port() -> int:
    """A local port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# ------------------------------------------------------------------------------------------ corpus roots


def test_wrong_corpus_root_names_the_layout_and_the_first_thing_missing(cotgen, tmp_path: Path) -> None:
    line = cotgen("corpus", "--corpus", "iemocap", "--root", str(DEMO)).one_error_line()
    assert f"{DEMO} does not have the IEMOCAP layout" in line
    assert f"missing {DEMO / 'Session1'}" in line
    line = cotgen("build", "--corpus", "crema-d", "--root", str(DEMO), "--out", str(tmp_path / "o")).one_error_line()
    assert "CREMA-D layout" in line and "tabulatedVotes.csv" in line


def test_empty_or_absent_corpus_root(cotgen, tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    line = cotgen("corpus", "--corpus", "manifest", "--root", str(empty)).one_error_line()
    assert f"missing {empty / 'manifest.csv'}" in line and "columns id, audio, transcript" in line
    line = cotgen("corpus", "--corpus", "msp-podcast", "--root", str(tmp_path / "absent")).one_error_line()
    assert "MSP-Podcast layout" in line and f"missing {tmp_path / 'absent'}" in line


def test_a_manifest_whose_rows_are_all_dropped_stops_the_build_with_one_line(
    cotgen, tmp_path: Path, feature_cache: Path
) -> None:
    rows = [{**demo_rows()[0], "audio": str(tmp_path / "gone.wav")}]
    manifest = write_manifest(tmp_path / "m.csv", rows)
    line = cotgen(*build_args(manifest, tmp_path / "run", feature_cache)).one_error_line()
    assert "no utterance left after loading (1 dropped)" in line


# ------------------------------------------------------------------------------------------ audio


def test_corrupt_empty_silent_and_missing_wavs_end_as_feature_rejects_with_reasons(
    cotgen, tmp_path: Path, feature_cache: Path
) -> None:
    bad = tmp_path / "wav"
    bad.mkdir()
    (bad / "corrupt.wav").write_bytes(b"RIFF\x24\x00\x00\x00WAVEfmt garbage that is not audio" * 4)
    (bad / "empty.wav").write_bytes(b"")
    sf.write(bad / "silent.wav", np.zeros(16000, dtype=np.float32), 16000)
    rows = demo_rows()[:5]
    for row, name in zip(rows, ("corrupt.wav", "empty.wav", "silent.wav", "missing.wav")):
        row["audio"] = str(bad / name)
    manifest = write_manifest(tmp_path / "m.csv", rows)

    shown = cotgen(*build_args(manifest, tmp_path / "dropped", feature_cache))
    assert shown.code == 0 and "Traceback" not in shown.err
    assert "1 traces, 3 rejects (features 3)" in shown.out
    info = json.loads((tmp_path / "dropped" / "run.json").read_text())
    assert info["corpus"]["dropped"] == 1, "the missing wav is dropped at load and counted"

    shown = cotgen(*build_args(manifest, tmp_path / "kept", feature_cache, "--allow-missing-audio"))
    assert shown.code == 0 and "1 traces, 4 rejects (features 4)" in shown.out
    rejects = {r["id"]: r for r in jsonl(tmp_path / "kept" / "rejects.jsonl")}
    detail = {key: rejects[row["id"]]["detail"] for key, row in zip(("corrupt", "empty", "silent", "missing"), rows)}
    assert detail["corrupt"].startswith("unreadable file (")
    assert detail["empty"].startswith("unreadable file (")
    assert detail["silent"] == "silence"
    assert detail["missing"] == "missing file"
    assert {(r["stage"], r["reason"], r["sample"], r["attempts"]) for r in rejects.values()} == {
        ("features", "features", 0, 0)
    }


def test_missing_wav_is_counted_by_reason_in_the_corpus_summary(cotgen, tmp_path: Path) -> None:
    rows = demo_rows()[:2]
    rows[1]["audio"] = str(tmp_path / "missing.wav")
    manifest = write_manifest(tmp_path / "m.csv", rows)
    shown = cotgen("corpus", "--corpus", "manifest", "--root", str(manifest), "--out", str(tmp_path))
    assert shown.code == 0
    assert "missing audio" in shown.out and f"{manifest}:3" in shown.out
    assert len(jsonl(tmp_path / "utterances.jsonl")) == 1


# ------------------------------------------------------------------------------------------ manifest rows


def test_an_empty_transcript_still_gives_a_valid_trace_with_no_lexical_cue(
    cotgen, tmp_path: Path, feature_cache: Path
) -> None:
    rows = demo_rows()[:2]
    rows[0]["transcript"] = ""
    manifest = write_manifest(tmp_path / "m.csv", rows)
    shown = cotgen(*build_args(manifest, tmp_path / "run", feature_cache))
    assert shown.code == 0 and "2 traces, 0 rejects" in shown.out
    empty, full = jsonl(tmp_path / "run" / "traces.jsonl")
    assert empty["id"] == rows[0]["id"] and empty["trace"]["lexical"]["cues"] == []
    assert full["trace"]["lexical"]["cues"], "a transcript with words gets at least one lexical cue"


def test_an_unknown_class_code_is_dropped_with_file_line_and_codes(cotgen, tmp_path: Path) -> None:
    rows = demo_rows()[:3]
    rows[1]["votes"] = "ang;xyz;ang"
    manifest = write_manifest(tmp_path / "m.csv", rows)
    args = ["corpus", "--corpus", "manifest", "--root", str(manifest), "--classes", "neu,ang"]
    shown = cotgen(*args, "--out-of-set", "drop-utterance", "--out", str(tmp_path))
    assert shown.code == 0
    assert "label outside class set" in shown.out and f"{manifest}:3" in shown.out and "xyz" in shown.out
    assert [u["id"] for u in jsonl(tmp_path / "utterances.jsonl")] == [rows[0]["id"], rows[2]["id"]]


def test_a_distribution_not_summing_to_one_is_dropped_with_its_sum(cotgen, tmp_path: Path) -> None:
    rows = [{"id": r["id"], "audio": r["audio"], "transcript": r["transcript"]} for r in demo_rows()[:2]]
    rows[0]["distribution"] = json.dumps({"neu": 0.5, "ang": 0.6})
    rows[1]["distribution"] = json.dumps({"neu": 0.5, "ang": 0.5})
    manifest = write_manifest(tmp_path / "m.csv", rows)
    shown = cotgen("corpus", "--corpus", "manifest", "--root", str(manifest), "--out", str(tmp_path))
    assert shown.code == 0
    assert "malformed row" in shown.out and f"{manifest}:2" in shown.out and "sums to 1.1000" in shown.out
    assert [u["id"] for u in jsonl(tmp_path / "utterances.jsonl")] == [rows[1]["id"]]


def test_a_duplicate_id_keeps_the_first_and_drops_the_second_with_its_line(cotgen, tmp_path: Path) -> None:
    rows = demo_rows()[:3]
    rows[2]["id"] = rows[0]["id"]
    manifest = write_manifest(tmp_path / "m.csv", rows)
    shown = cotgen("corpus", "--corpus", "manifest", "--root", str(manifest), "--out", str(tmp_path))
    assert shown.code == 0
    assert "duplicate id" in shown.out and f"{manifest}:4" in shown.out
    kept = jsonl(tmp_path / "utterances.jsonl")
    assert [u["id"] for u in kept] == [rows[0]["id"], rows[1]["id"]]
    assert kept[0]["transcript"] == rows[0]["transcript"]


def test_a_manifest_without_a_required_column_names_it(cotgen, tmp_path: Path) -> None:
    manifest = tmp_path / "m.csv"
    manifest.write_text("id,audio,votes\nx,x.wav,ang\n", encoding="utf-8")
    line = cotgen("corpus", "--corpus", "manifest", "--root", str(manifest)).one_error_line()
    assert f"{manifest}:1: missing column(s) transcript" in line


def test_a_manifest_that_is_not_utf8_is_one_line(cotgen, tmp_path: Path) -> None:
    manifest = tmp_path / "m.csv"
    text = "id,audio,transcript,votes\ncaf\u00e9,a.wav,D\u00e9j\u00e0 vu,ang\n"
    manifest.write_bytes(text.encode("utf-16"))
    line = cotgen("corpus", "--corpus", "manifest", "--root", str(manifest)).one_error_line()
    assert f"{manifest}: not UTF-8 text" in line and "save the manifest as UTF-8" in line


def test_corpus_label_files_that_are_not_utf8_are_one_line_naming_file_and_line(cotgen, tmp_path: Path) -> None:
    crema = tmp_path / "crema"
    (crema / "processedResults").mkdir(parents=True)
    (crema / "VideoDemographics.csv").write_text('"ActorID","Sex"\n1001,"Male"\n', encoding="utf-8")
    votes = crema / "processedResults" / "tabulatedVotes.csv"
    header = '"","A","D","F","H","N","S","fileName","numResponses"\n'
    votes.write_bytes((header + '"100001",0,0,0,1,10,0,"1001_IEO_NEU_XX",11 \u00e9\n').encode("cp1252"))
    args = ("corpus", "--corpus", "crema-d", "--root", str(crema), "--allow-missing-audio", "--out", str(tmp_path))
    line = cotgen(*args).one_error_line()
    assert line == f"error: {votes}:2: not UTF-8 text (byte 0xe9); save the file as UTF-8"
    msp = tmp_path / "msp" / "Labels"
    msp.mkdir(parents=True)
    consensus = msp / "labels_consensus.csv"
    consensus.write_bytes("FileName,EmoClass,EmoAct,EmoVal,EmoDom,SpkrID,Gender,Split_Set\n".encode("utf-16"))
    (msp / "labels_detailed.csv").write_text("FileName,EmoDetail\n", encoding="utf-8")
    args = ("corpus", "--corpus", "msp-podcast", "--root", str(msp.parent), "--allow-missing-audio")
    line = cotgen(*args, "--out", str(tmp_path)).one_error_line()
    assert line == f"error: {consensus}:1: not UTF-8 text (byte 0xff); save the file as UTF-8"


def test_predictions_that_are_not_utf8_name_the_line(cotgen, tmp_path: Path, feature_cache: Path) -> None:
    run = tmp_path / "run"
    assert cotgen(*build_args(write_manifest(tmp_path / "m.csv", demo_rows()[:3]), run, feature_cache)).code == 0
    predictions = tmp_path / "pred.jsonl"
    good = json.dumps({"id": demo_rows()[0]["id"], "distribution": {"neu": 1.0}}).encode()
    predictions.write_bytes(good + b"\n" + '{"id": "demo_spk1_02", "text": "d\u00e9j\u00e0"}\n'.encode("latin-1"))
    line = cotgen("eval", "--pred", str(predictions), "--in", str(run)).one_error_line()
    assert f"{predictions}:2: " in line and "not valid utf-8" in line  # jsonlines' reason, with file and line


# ------------------------------------------------------------------------------------------ output folders


@pytest.mark.parametrize("command", ["corpus", "features", "build"])
def test_an_output_folder_that_cannot_be_created_is_one_line(
    cotgen, tmp_path: Path, feature_cache: Path, command: str
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder", encoding="utf-8")
    args = {
        "corpus": ["corpus", "--out", str(blocker / "sub")],
        "features": ["features", "--out", str(blocker / "run"), "--cache", str(feature_cache), "--no-progress"],
        "build": ["build", "--out", str(blocker / "run"), "--cache", str(feature_cache), "--no-progress"],
    }[command]
    line = cotgen(*args).one_error_line()
    assert f"cannot use {blocker}" in line
    assert "Not a directory" in line or "File exists" in line


def test_a_read_only_output_folder_is_one_line(cotgen, tmp_path: Path, feature_cache: Path) -> None:
    if os.geteuid() == 0:
        pytest.skip("root writes into read-only folders; the folder-under-a-file case covers the same path")
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    try:
        line = cotgen("build", "--out", str(locked / "run"), "--cache", str(feature_cache)).one_error_line()
    finally:
        locked.chmod(0o755)
    assert f"cannot use {locked / 'run'}" in line and "Permission denied" in line


def test_downstream_commands_on_an_unwritable_output_are_one_line(cotgen, tmp_path: Path, feature_cache: Path) -> None:
    run = tmp_path / "run"
    assert cotgen(*build_args(write_manifest(tmp_path / "m.csv", demo_rows()), run, feature_cache)).code == 0
    blocker = tmp_path / "a-file"
    blocker.write_text("x", encoding="utf-8")
    line = cotgen("pairs", "--in", str(run), "--output", str(blocker / "dpo.jsonl")).one_error_line()
    assert f"cannot use {blocker}" in line
    line = cotgen("export", "--format", "swift", "--in", str(run), "--out", str(blocker / "swift")).one_error_line()
    assert f"cannot use {blocker}" in line


def test_a_damaged_traces_file_names_the_line(cotgen, tmp_path: Path, feature_cache: Path) -> None:
    manifest = write_manifest(tmp_path / "m.csv", demo_rows()[:3])
    assert cotgen(*build_args(manifest, tmp_path / "run", feature_cache)).code == 0
    traces = tmp_path / "run" / "traces.jsonl"
    lines = traces.read_text(encoding="utf-8").splitlines()
    traces.write_text("\n".join(["{damaged", *lines[1:]]) + "\n", encoding="utf-8")
    line = cotgen(*build_args(manifest, tmp_path / "run", feature_cache)).one_error_line()
    assert f"{traces}:1: not a valid " in line and "line (" in line


# ------------------------------------------------------------------------------------------ teacher


def test_no_api_key_for_openais_endpoint_names_the_variable(cotgen, tmp_path: Path, feature_cache: Path) -> None:
    manifest = write_manifest(tmp_path / "m.csv", demo_rows()[:1])
    line = cotgen(
        *build_args(manifest, tmp_path / "run", feature_cache, "--teacher", "openai:gpt-4o-mini")
    ).one_error_line()
    assert "no API key: set OPENAI_API_KEY" in line and "--base-url" in line
    line = cotgen(
        *build_args(manifest, tmp_path / "run", feature_cache, "--teacher", "openai:gpt-4o-mini"),
        "--api-key-env",
        "MY_KEY",
    ).one_error_line()
    assert "set MY_KEY" in line


def test_an_unknown_teacher_is_one_line(cotgen, tmp_path: Path) -> None:
    line = cotgen("build", "--teacher", "gpt-4o", "--out", str(tmp_path)).one_error_line()
    assert "--teacher 'gpt-4o': expected 'template' or 'openai:MODEL'" in line


def test_an_unreachable_base_url_stops_the_build_with_one_line_and_leaves_every_item_to_do(
    cotgen, tmp_path: Path, feature_cache: Path
) -> None:
    manifest = write_manifest(tmp_path / "m.csv", demo_rows()[:6])
    run = tmp_path / "run"
    port = closed_port()
    args = build_args(manifest, run, feature_cache, "--teacher", "openai:m")
    # The defaults (6 retries with backoff from 1 s) would keep each item about 30 s before a reject.
    line = cotgen(*args, "--base-url", f"http://user:pw-secret@127.0.0.1:{port}/v1").one_error_line()
    assert line.startswith(f"error: the server at http://127.0.0.1:{port}/v1 cannot be reached (ConnectError on ")
    assert "check --base-url" in line and "pw-secret" not in line
    for name in ("traces.jsonl", "rejects.jsonl"):
        assert not (run / name).exists() or not jsonl(run / name), f"{name}: a dead server is no item's fault"
    assert "cannot be reached" in (run / "cotgen.log").read_text(encoding="utf-8")
    with LoopbackServer() as server:
        shown = cotgen(*args, "--base-url", server.base_url)
        assert len(server.chat_requests) == 6
    assert shown.code == 0, shown.err
    assert (
        "6 traces, 0 rejects" in shown.out
        and "[this run: 6 traces, 0 rejects, 0 already done, 0 stale redone]" in shown.out
    )


def test_a_server_without_structured_outputs_says_to_rerun_with_no_structured_and_that_works(
    cotgen, tmp_path: Path, feature_cache: Path
) -> None:
    manifest = write_manifest(tmp_path / "m.csv", demo_rows()[:2])
    run = tmp_path / "run"
    with LoopbackServer(structured_supported=False) as server:
        args = build_args(manifest, run, feature_cache, "--teacher", "openai:m", "--base-url", server.base_url)
        shown = cotgen(*args)
        # Nothing usable came out: a non-zero exit, and the advice on screen, not only inside rejects.jsonl.
        assert shown.code == 1 and "0 traces, 2 rejects (request_refused 2)" in shown.out
        assert len(server.chat_requests) == 2, "a 400 is final: no retries are paid"
        advice = jsonl(run / "rejects.jsonl")[0]["detail"]
        assert "does not support structured outputs; rerun with --no-structured" in advice
        assert f"2 request_refused: {advice}" in " ".join(shown.out.split())
        # Following the advice, as printed, in the same folder must produce the traces.
        rerun = advice.split("rerun with ", 1)[1].split(" (HTTP", 1)[0].split()
        shown = cotgen(*args, *rerun)
        assert shown.code == 0 and "2 traces, 0 rejects" in shown.out
        assert "response_format" not in server.chat_requests[-1].body


# ------------------------------------------------------------------------------------------ Hub


def test_publish_without_a_hub_token_is_one_line(
    cotgen, tmp_path: Path, feature_cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(hub_constants, "HF_TOKEN_PATH", str(tmp_path / "no-saved-login" / "token"))
    run = tmp_path / "run"
    assert cotgen(*build_args(write_manifest(tmp_path / "m.csv", demo_rows()[:2]), run, feature_cache)).code == 0
    # The manifest in tmp names the demo's clips: outside its corpus root, so staging needs the flag (and warns
    # once per clip, each listed before anything is staged).
    publish = ["publish", "--in", str(run), "--repo", "someone/emotion-cot", "--private", "--allow-outside-root"]
    shown = cotgen(*publish)
    assert shown.code == 2 and "Traceback" not in shown.err
    assert shown.err.splitlines()[-1] == "error: no Hugging Face token: set HF_TOKEN or run `hf auth login`"


# ------------------------------------------------------------------------------------------ the real script


def test_the_installed_console_script_prints_one_line_and_no_traceback(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("x", encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if k not in ("OPENAI_API_KEY", "OPENAI_BASE_URL")}
    env["XDG_CACHE_HOME"] = str(tmp_path / "xdg")
    cases = [
        (["corpus", "--out", str(blocker / "u.jsonl")], f"cannot use {blocker}"),
        (["corpus", "--corpus", "iemocap", "--root", str(tmp_path)], "does not have the IEMOCAP layout"),
    ]
    for args, expected in cases:
        done = subprocess.run(
            [COTGEN, *args], capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120, check=False
        )
        assert done.returncode == 2, done.stderr
        assert done.stdout == ""
        assert "Traceback" not in done.stderr
        [line] = done.stderr.strip().splitlines()
        assert line.startswith("error: ") and expected in line
