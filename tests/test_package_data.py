"""The bundled data is in one copy at the top level and the wheel carries all of it.

``prompts/`` and ``corpora/`` sit at the top of the repository; ``tools/wheel_data.py`` copies them into the
package when a wheel is built. A file added there (a new corpus note, a new template) that the copy's patterns do
not name would be missing from a non-editable install while every test run from the checkout still passes: the
first test catches that without building a wheel, the second builds one and looks inside (``.ci/run`` also
installs it and runs it from an empty folder).
"""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from cotgen.core.paths import CORPORA_DIR, PROMPTS_DIR, bundled

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from tools.wheel_data import shipped_files  # noqa: E402


def _tracked(folder: str) -> set[Path]:
    listing = subprocess.run(["git", "ls-files", folder], cwd=ROOT, capture_output=True, text=True)
    if listing.returncode != 0:
        pytest.skip(f"not a git checkout ({ROOT}): git ls-files failed")
    return {Path(line) for line in listing.stdout.splitlines()}


def test_the_wheel_copy_covers_every_tracked_data_file() -> None:
    tracked = _tracked("prompts") | _tracked("corpora")
    shipped = set(shipped_files())
    assert tracked - shipped == set(), "files under prompts/ or corpora/ that the wheel would not carry"
    # four templates, a note per corpus, the demo manifest and its 24 clips
    assert len(shipped) >= 4 + 5 + 1 + 24


def test_a_users_corpus_under_corpora_is_neither_tracked_nor_shipped(tmp_path: Path) -> None:
    ignored = subprocess.run(["git", "check-ignore", "-q", "corpora/iemocap/Session1/x.wav"], cwd=ROOT)
    assert ignored.returncode == 0, "a user's corpus under corpora/<name>/ must be ignored by git"
    assert subprocess.run(["git", "check-ignore", "-q", "corpora/demo/manifest.csv"], cwd=ROOT).returncode == 1
    assert subprocess.run(["git", "check-ignore", "-q", "corpora/iemocap.md"], cwd=ROOT).returncode == 1
    for relative in ("prompts/system.j2", "corpora/demo.md", "corpora/demo/wav/a.wav", "corpora/iemocap/x.wav"):
        (tmp_path / relative).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / relative).write_bytes(b"x")
    shipped = {path.as_posix() for path in shipped_files(tmp_path)}
    assert shipped == {"prompts/system.j2", "corpora/demo.md", "corpora/demo/wav/a.wav"}


def test_a_checkout_reads_the_top_level_folders() -> None:
    assert PROMPTS_DIR == bundled("prompts") == ROOT / "prompts"
    assert (PROMPTS_DIR / "system.j2").is_file()
    assert CORPORA_DIR == ROOT / "corpora"
    assert (CORPORA_DIR / "demo" / "manifest.csv").is_file() and (CORPORA_DIR / "demo.md").is_file()
    assert not (ROOT / "cotgen" / "data").exists(), "a second copy of the data inside the package"


def test_the_wheel_carries_the_data_inside_the_package(tmp_path: Path) -> None:
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path), str(ROOT)],
        capture_output=True,
        text=True,
    )
    assert built.returncode == 0, built.stderr[-2000:]
    (wheel,) = tmp_path.glob("cotgen-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    expected = {f"cotgen/data/{path.as_posix()}" for path in shipped_files()}
    assert expected <= names
    assert not any(name.startswith(("prompts/", "corpora/", "tools/")) for name in names)
    # Installed into a folder of its own and run from an empty folder, it finds its prompts and the demo corpus.
    site, empty = tmp_path / "site", tmp_path / "empty"
    empty.mkdir()
    installed = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(site), str(wheel)],
        capture_output=True,
        text=True,
    )
    assert installed.returncode == 0, installed.stderr[-2000:]
    env = {**os.environ, "PYTHONPATH": str(site), "XDG_CACHE_HOME": str(tmp_path / "cache")}
    probe = "import cotgen.core.paths as p; print(p.__file__); print(p.PROMPTS_DIR); print(p.CORPORA_DIR)"
    shown = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=empty, env=env)
    assert shown.stdout.split() == [
        str(site / "cotgen" / "core" / "paths.py"),
        str(site / "cotgen" / "data" / "prompts"),
        str(site / "cotgen" / "data" / "corpora"),
    ], shown.stderr
    run = subprocess.run(
        [sys.executable, "-m", "cotgen", "corpus", "--out", "run"], capture_output=True, text=True, cwd=empty, env=env
    )
    assert run.returncode == 0, run.stderr
    assert len((empty / "run" / "utterances.jsonl").read_text(encoding="utf-8").splitlines()) == 24
