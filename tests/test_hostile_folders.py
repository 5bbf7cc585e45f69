"""Nothing a user owns is deleted or overwritten, and derived folders are all-or-nothing.

Output folders that hold a user's files (notes beside a review page, a hand-written README.md in an export or
run folder) are refused with one line naming ``--force``, or written around; ``--force`` keeps the user's files.
A re-export killed with SIGKILL at many moments leaves either the old export or the new one, each matching its
``export.json``; publish refuses an export whose files no longer match it.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from cotgen.core.owned_folder import MANIFEST, TMP_TAG
from cotgen.export.writer import EXPORT_INFO, export_mismatches

COTGEN = [sys.executable, "-m", "cotgen"]
MY_README = "# My notes on this dataset\n\nHand-written; cotgen must not replace this.\n"


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory, measured_features: Path) -> Path:
    from cotgen.build import BuildConfig, run_build
    from cotgen.pairs.build import PairOptions, build_pairs
    from cotgen.report.card import write_card

    run = tmp_path_factory.mktemp("folders") / "run"
    run.mkdir()
    (run / "README.md").write_text(MY_README, encoding="utf-8")
    run_build(BuildConfig(out=run, cache=measured_features, progress=False, samples=1))
    write_card(run)  # what `cotgen build` does last
    build_pairs(run, PairOptions())
    return run


def test_a_build_writes_its_card_around_a_readme_it_did_not_write(run: Path) -> None:
    assert (run / "README.md").read_text(encoding="utf-8") == MY_README
    assert "written by cotgen" in (run / "README.cotgen.md").read_text(encoding="utf-8")


def test_review_refuses_a_folder_with_foreign_files_and_force_keeps_them(run: Path, cotgen, tmp_path: Path) -> None:
    page = tmp_path / "page"
    (page / "data").mkdir(parents=True)
    (page / "data" / "my-marks.jsonl").write_text('{"id": "mine"}\n')
    (page / "notes.md").write_text("mine\n")
    refused = cotgen("review", "--in", str(run), "--out", str(page))
    assert refused.code == 2
    line = refused.one_error_line()
    assert "--force" in line and "2 file(s) cotgen did not write" in line
    assert sorted(p.name for p in page.rglob("*")) == ["data", "my-marks.jsonl", "notes.md"]  # untouched
    forced = cotgen("review", "--in", str(run), "--out", str(page), "--force")
    assert forced.code == 0, forced.err
    assert (page / "data" / "my-marks.jsonl").read_text() == '{"id": "mine"}\n'
    assert (page / "notes.md").read_text() == "mine\n" and (page / "index.html").is_file()
    # A second page into the same folder still refuses: the user's files stay the user's.
    assert cotgen("review", "--in", str(run), "--out", str(page)).code == 2
    # A page folder cotgen wrote alone is rewritten without a word.
    assert cotgen("review", "--in", str(run), "--out", str(tmp_path / "own")).code == 0
    assert cotgen("review", "--in", str(run), "--out", str(tmp_path / "own")).code == 0


def test_export_refuses_a_foreign_readme_and_force_keeps_it(run: Path, cotgen, tmp_path: Path) -> None:
    out = tmp_path / "exp"
    out.mkdir()
    (out / "README.md").write_text(MY_README, encoding="utf-8")
    refused = cotgen("export", "--in", str(run), "--format", "trl", "--out", str(out))
    assert refused.code == 2 and "README.md" in refused.one_error_line() and "--force" in refused.err
    forced = cotgen("export", "--in", str(run), "--format", "trl", "--out", str(out), "--force")
    assert forced.code == 0, forced.err
    assert (out / "README.md").read_text(encoding="utf-8") == MY_README
    assert "written by cotgen" in (out / "README.cotgen.md").read_text(encoding="utf-8")
    assert "README.md" in forced.err  # the warning that the card went beside it
    assert export_mismatches(out) == []


def _export(run: Path, out: Path, answer: str) -> subprocess.Popen:
    args = [*COTGEN, "export", "--in", str(run), "--format", "trl", "--out", str(out), "--answer", answer]
    return subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def test_a_killed_re_export_leaves_the_old_export_or_the_new_one(run: Path, cotgen, tmp_path: Path) -> None:
    out = tmp_path / "exp"
    assert _export(run, out, "text").wait() == 0
    answers = {"text"}
    for delay in (0.4, 0.8, 1.2, 1.6, 2.0, 2.5, 3.0, 4.0):
        process = _export(run, out, "label")
        time.sleep(delay)
        process.send_signal(signal.SIGKILL)
        process.wait()
        info = json.loads((out / EXPORT_INFO).read_text(encoding="utf-8"))
        assert export_mismatches(out) == [], f"after a kill at {delay} s"
        answers.add(info["answer"])
        names = {p.name for p in out.iterdir()}
        assert MANIFEST in names and not any(TMP_TAG in n for n in names)
    assert answers == {"text", "label"}, "the kills fell only before or only after the swap: move the delays"
    # The next export tidies what the killed ones left beside the folder.
    assert _export(run, out, "text").wait() == 0
    assert not [p for p in out.parent.iterdir() if TMP_TAG in p.name]


def test_publish_refuses_an_export_that_does_not_match_its_export_json(run: Path, cotgen, tmp_path: Path) -> None:
    out = tmp_path / "exp"
    assert cotgen("export", "--in", str(run), "--format", "trl", "--out", str(out)).code == 0
    args = ["publish", "--in", str(out), "--repo", "me/x", "--private", "--dry-run"]
    assert cotgen(*args).code == 0
    train = next(out.glob("sft_train.jsonl"))
    rows = train.read_text(encoding="utf-8").splitlines()
    train.write_text("\n".join(rows[1:]) + "\n", encoding="utf-8")  # one record gone
    refused = cotgen(*args)
    assert refused.code == 2 and "sft_train.jsonl changed" in refused.one_error_line()
    train.write_text("\n".join(rows) + "\n", encoding="utf-8")
    assert cotgen(*args).code == 0  # as exported again
    (out / "sft_extra.jsonl").write_text(rows[0] + "\n", encoding="utf-8")  # a file of another export mixed in
    assert "sft_extra.jsonl is not part of the export" in cotgen(*args).one_error_line()


def test_a_killed_writer_leaves_nothing_that_outlives_the_next_write(run: Path, cotgen, tmp_path: Path) -> None:
    out = tmp_path / "exp"
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    stale = tmp_path / f".exp{TMP_TAG}{dead.stdout.strip()}"
    (stale / "fold_x").mkdir(parents=True)
    (stale / "fold_x" / "sft_train.jsonl").write_text("half\n")
    assert cotgen("export", "--in", str(run), "--format", "trl", "--out", str(out)).code == 0
    assert not stale.exists() and os.path.isdir(out)
