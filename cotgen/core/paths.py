"""Where runs, caches and the bundled data live by default (runs under outputs/, one shared cache).

The prompts, the demo corpus and the corpus notes live at the top of the repository (``prompts/``, ``corpora/``),
in one copy. A wheel carries them inside the package as ``cotgen/data/`` (copied at build time by
``tools/wheel_data.py``), found through :mod:`importlib.resources`, so a plain ``pip install`` works from any
folder; a checkout or an editable install reads the top-level folders themselves.
"""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path

OUTPUTS_ROOT = Path("outputs")
DEFAULT_RUN = OUTPUTS_ROOT / "demo"
PROJECT_ROOT = Path(__file__).resolve().parents[2]
# Where a user keeps corpora that are not bundled, relative to the folder cotgen runs in (ignored by git).
USER_CORPORA_DIR = Path("corpora")


def bundled(folder: str) -> Path:
    """A bundled data folder (``prompts`` or ``corpora``) as a real path (Praat, pandas and Jinja2 open by path).

    An installed wheel has it at ``cotgen/data/<folder>``; a checkout (editable install, tests) at the top of the
    repository. The wheel's copy wins, so an installed cotgen never reads a stray folder beside it. An installed
    package is a folder on disk, where :func:`importlib.resources.files` gives a :class:`~pathlib.Path`; only a
    zipped install (zipimport) gives something else, which cotgen does not support: that fails here with the
    reason instead of later on a strange path.
    """
    resource = resources.files("cotgen").joinpath("data", folder)
    if not isinstance(resource, Path):
        raise RuntimeError(f"cotgen's bundled data ({resource}) is not a folder on disk; install cotgen unzipped")
    if resource.is_dir() and any(resource.iterdir()):  # an emptied folder left by an old checkout is not a copy
        return resource
    checkout = PROJECT_ROOT / folder
    if checkout.is_dir():
        return checkout
    raise RuntimeError(f"cotgen's bundled {folder}/ is missing (looked in {resource} and {checkout}); reinstall cotgen")


PROMPTS_DIR = bundled("prompts")
# Bundled corpora (``demo/``) and the note of every supported corpus (``<name>.md``).
CORPORA_DIR = bundled("corpora")


def run_dir(corpus: str, out: Path | None = None) -> Path:
    """The output folder of a run: ``--out`` when given, else ``outputs/<corpus>/``."""
    return out if out is not None else OUTPUTS_ROOT / corpus


def cache_dir(override: Path | None = None) -> Path:
    """The cache shared by every run: ``--cache`` when given, else ``${XDG_CACHE_HOME:-~/.cache}/cotgen``."""
    if override is not None:
        return override
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "cotgen"
