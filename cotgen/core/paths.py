"""Where runs, caches and the bundled data live by default (runs under outputs/, one shared cache).

The prompts, the demo corpus and the corpus notes ship inside the package (``cotgen/data/``) and are found
through :mod:`importlib.resources`, so a plain ``pip install`` works from any folder, not only from a checkout.
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


def package_data(*parts: str) -> Path:
    """A folder or file of ``cotgen/data/`` as a real path (Praat, pandas and Jinja2 open files by path).

    An installed package is a folder on disk, where :func:`importlib.resources.files` gives a
    :class:`~pathlib.Path`; only a zipped install (zipimport) gives something else, and cotgen does not
    support running from one, so that case fails here with the reason instead of later on a strange path.
    """
    resource = resources.files("cotgen").joinpath("data", *parts)
    if not isinstance(resource, Path):
        raise RuntimeError(f"cotgen's bundled data ({resource}) is not a folder on disk; install cotgen unzipped")
    return resource


PROMPTS_DIR = package_data("prompts")
# Bundled corpora (``demo/``) and the note of every supported corpus (``<name>.md``).
CORPORA_DIR = package_data("corpora")


def run_dir(corpus: str, out: Path | None = None) -> Path:
    """The output folder of a run: ``--out`` when given, else ``outputs/<corpus>/``."""
    return out if out is not None else OUTPUTS_ROOT / corpus


def cache_dir(override: Path | None = None) -> Path:
    """The cache shared by every run: ``--cache`` when given, else ``${XDG_CACHE_HOME:-~/.cache}/cotgen``."""
    if override is not None:
        return override
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "cotgen"
