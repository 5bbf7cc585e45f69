"""Nothing outside the corpus leaves the machine: publish and the review page copy only measured clips under the root.

A manifest in its own corpus folder names real clips, a symlink inside the folder to a private key outside it, a
real clip outside the folder, a text file dressed as a ``.wav`` (a features reject), a 300-character id and two ids
that differ only in case. Publish must refuse the outside files (naming ``--allow-outside-root``) before staging
anything; with the flag it lists each first and stages it under ``outside/``; the key and the fake clip are never
copied, no staged byte holds an absolute path, and ``review --copy-audio`` copies the same measured clips only.
"""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import pytest

from cotgen.core.paths import CORPORA_DIR

DEMO = CORPORA_DIR / "demo"
KEY_TEXT = b"-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQ\n"
LONG_ID = "long-" + "x" * 295


def _corpus(tmp_path: Path) -> Path:
    """tmp/corpus/manifest.csv and its clips; tmp/private/id_ed25519 and tmp/elsewhere/clip.wav outside it."""
    corpus, private, elsewhere = tmp_path / "corpus", tmp_path / "private", tmp_path / "elsewhere"
    for folder in (corpus / "wav", private, elsewhere):
        folder.mkdir(parents=True)
    (private / "id_ed25519").write_bytes(KEY_TEXT)
    (corpus / "wav" / "key.wav").symlink_to(private / "id_ed25519")
    (corpus / "wav" / "notes.wav").write_text("these are my notes, not audio\n")
    with (DEMO / "manifest.csv").open(encoding="utf-8") as handle:
        demo = list(csv.DictReader(handle))
    shutil.copy(DEMO / demo[0]["audio"], elsewhere / "clip.wav")
    rows = []
    for i, uid in enumerate(["A1", "a1", LONG_ID, "plain"]):
        shutil.copy(DEMO / demo[i]["audio"], corpus / "wav" / f"c{i}.wav")
        rows.append(dict(demo[i], id=uid, audio=f"wav/c{i}.wav"))
    rows.append(dict(demo[4], id="key", audio="wav/key.wav"))
    rows.append(dict(demo[5], id="notes", audio="wav/notes.wav"))
    rows.append(dict(demo[0], id="outside", audio=str(elsewhere / "clip.wav")))  # the votes of its clip
    for i, row in enumerate(rows):
        row["speaker"] = f"s{i}"  # seven speakers: enough for the default speaker split of an export
    with (corpus / "manifest.csv").open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(demo[0]))
        writer.writeheader()
        writer.writerows(rows)
    return corpus / "manifest.csv"


def _texts(folder: Path) -> bytes:
    return b"".join(p.read_bytes() for p in folder.rglob("*") if p.is_file())


@pytest.fixture
def run(tmp_path: Path, cotgen, cache: Path) -> Path:
    run = tmp_path / "run"
    args = ["build", "--corpus", "manifest", "--root", str(_corpus(tmp_path)), "--out", str(run), "--cache", str(cache)]
    assert cotgen(*args).code == 0
    rejects = [json.loads(line) for line in (run / "rejects.jsonl").read_text().splitlines()]
    assert {r["id"] for r in rejects if r["stage"] == "features"} == {"key", "notes"}
    return run


def test_publish_refuses_files_outside_the_root_before_staging_anything(run: Path, cotgen) -> None:
    shown = cotgen(
        "publish", "--in", str(run), "--repo", "me/x", "--private", "--include-audio", "--dry-run", "--confirm-license"
    )
    assert shown.code == 2
    line = shown.one_error_line()
    assert "--allow-outside-root" in line and "outside the corpus root" in line
    assert "2 audio path(s)" in line  # the key behind its symlink and the clip elsewhere
    assert not (run / "publish").exists()
    # Without --include-audio too: the paths alone would say where the files are.
    assert cotgen("publish", "--in", str(run), "--repo", "me/x", "--private", "--dry-run").code == 2


def test_publish_stages_measured_clips_only_with_relative_paths(run: Path, cotgen, tmp_path: Path) -> None:
    args = [
        "publish",
        "--in",
        str(run),
        "--repo",
        "me/x",
        "--private",
        "--include-audio",
        "--dry-run",
        "--confirm-license",
    ]
    shown = cotgen(*args, "--allow-outside-root")
    assert shown.code == 0, shown.err
    stage = run / "publish"
    # The outside clip was listed (a warning on stderr) before anything was staged, and is staged under outside/.
    assert str(tmp_path / "elsewhere" / "clip.wav") in shown.err
    clips = sorted(p.relative_to(stage).as_posix() for p in (stage / "audio").rglob("*") if p.is_file())
    assert len(clips) == 5 and sum(c.startswith("audio/outside/") for c in clips) == 1
    assert {"audio/wav/c0.wav", "audio/wav/c1.wav", "audio/wav/c2.wav", "audio/wav/c3.wav"} <= set(clips)
    staged = _texts(stage)
    assert KEY_TEXT[:40] not in staged and b"these are my notes" not in staged
    assert str(tmp_path).encode() not in staged  # no absolute path in any staged byte (run.json included)
    assert "NOT AN AUDIO FILE" not in shown.out
    assert "not staged as audio" in shown.out and "notes.wav" in shown.out
    rows = [json.loads(line) for line in (stage / "utterances.jsonl").read_text().splitlines()]
    audio = {row["id"]: row["audio"] for row in rows}
    assert audio["notes"] == "wav/notes.wav"  # relative, not under audio/: its file was not staged


def test_review_copies_measured_clips_under_the_root_only(run: Path, cotgen, tmp_path: Path) -> None:
    page = tmp_path / "page"
    shown = cotgen("review", "--in", str(run), "--out", str(page), "--copy-audio")
    assert shown.code == 0, shown.err
    copied = sorted(p.name for p in (page / "audio").iterdir())
    assert len(copied) == 4  # A1, a1, the long id, plain: not the key, the notes or the clip outside
    assert len({name.casefold() for name in copied}) == 4
    assert all(len(name.encode()) < 255 for name in copied)
    assert "2 clips lie outside the corpus root" in shown.out  # the key behind its symlink, the clip elsewhere
    assert "1 clips did not decode as audio" in shown.out  # the notes
    texts = _texts(page)
    assert KEY_TEXT[:40] not in texts and b"these are my notes" not in texts
    allowed = cotgen(
        "review", "--in", str(run), "--out", str(tmp_path / "page2"), "--copy-audio", "--allow-outside-root"
    )
    assert allowed.code == 0 and len(list((tmp_path / "page2" / "audio").iterdir())) == 5


def test_export_copies_measured_clips_under_the_root_only(run: Path, cotgen, tmp_path: Path) -> None:
    out = tmp_path / "exp"
    shown = cotgen("export", "--in", str(run), "--format", "trl", "--audio", "copy", "--out", str(out))
    assert shown.code == 0, shown.err
    copied = sorted(p.name for p in (out / "audio").iterdir())
    assert len(copied) == 4 and all(len(name.encode()) < 255 for name in copied)
    assert KEY_TEXT[:40] not in _texts(out)
    info = json.loads((out / "export.json").read_text())
    assert info["skipped"] == {"audio_not_copied": 1}  # the sft record of the clip outside the root
