"""Build hook: the wheel carries the top-level ``prompts/`` and ``corpora/`` inside the package, as ``cotgen/data/``.

The repository keeps the teacher templates and the bundled corpora at the top level, in one copy, where a reader
of the project finds them. An installed cotgen has no checkout behind it, so the build copies them into the
package (``cotgen/data/prompts``, ``cotgen/data/corpora``) and :func:`cotgen.core.paths.bundled` finds them there;
from a checkout (or an editable install) it reads the top-level folders themselves. ``pyproject.toml`` names this
class as setuptools' ``build_py``.

What is copied is exactly :data:`SHIPPED`: the templates, one note per corpus and the demo corpus — never a user's
own corpus that happens to sit in ``corpora/<name>/`` (ignored by git, and often not redistributable).
"""

from __future__ import annotations

import shutil
from pathlib import Path

from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent.parent
# (folder at the top level, glob patterns within it) → copied to cotgen/data/<folder>/
SHIPPED: dict[str, tuple[str, ...]] = {
    "prompts": ("*.j2",),
    "corpora": ("*.md", "demo/manifest.csv", "demo/wav/*.wav"),
}


def shipped_files(root: Path = ROOT) -> list[Path]:
    """Every top-level data file the wheel carries, relative to ``root`` (the test compares it with the folders)."""
    files = {
        path for folder, patterns in SHIPPED.items() for pattern in patterns for path in (root / folder).glob(pattern)
    }
    return sorted(path.relative_to(root) for path in files if path.is_file())


class BuildPyWithData(build_py):
    """setuptools' ``build_py`` that also copies the shipped data files into ``<build_lib>/cotgen/data/``."""

    def run(self) -> None:
        super().run()
        if self.editable_mode:  # an editable install reads the checkout's folders; nothing to copy
            return
        target = Path(self.build_lib) / "cotgen" / "data"
        for relative in shipped_files():
            destination = target / relative
            destination.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(ROOT / relative, destination)
