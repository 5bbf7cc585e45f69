"""The wheel carries every file of ``cotgen/data/``: the package-data globs of pyproject.toml cover the folder.

A file added to ``cotgen/data/`` (a new corpus note, a new template) that no glob names would be missing from a
non-editable install while every test run from the checkout still passes; this test catches that without building
a wheel (``.ci/run`` builds one and runs it from an empty folder).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from cotgen.core.paths import CORPORA_DIR, PROMPTS_DIR, package_data

tomllib = pytest.importorskip("tomllib")

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "cotgen"


def test_package_data_globs_cover_the_data_folder() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    patterns = config["tool"]["setuptools"]["package-data"]["cotgen"]
    shipped = {path for pattern in patterns for path in PACKAGE.glob(pattern) if path.is_file()}
    on_disk = {path for path in (PACKAGE / "data").rglob("*") if path.is_file()}
    assert on_disk - shipped == set(), "files under cotgen/data/ that no package-data glob ships"
    # four templates, a note per corpus (five), the demo manifest and its 24 clips
    assert len(on_disk) >= 4 + 5 + 1 + 24


def test_bundled_data_is_found_through_the_package() -> None:
    assert PROMPTS_DIR == package_data("prompts") == PACKAGE / "data" / "prompts"
    assert (PROMPTS_DIR / "system.j2").is_file()
    assert (CORPORA_DIR / "demo" / "manifest.csv").is_file() and (CORPORA_DIR / "demo.md").is_file()
