"""Checking that a root folder is the corpus it claims to be, before reading anything.

Pointing ``--root`` at the wrong folder is the commonest mistake; one error naming the expected
layout and the first missing path fixes it faster than thousands of per-entry drops would.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from cotgen.core.errors import CotgenError


def layout_error(corpus: str, root: Path, layout: str, missing: Path) -> CotgenError:
    """The one-line error for a root that does not have ``corpus``'s layout."""
    return CotgenError(f"{root} does not have the {corpus} layout (expected {layout}): missing {missing}")


def absolute(root: Path) -> Path:
    """``root`` made absolute and normalised (``..`` removed) without resolving symlinks."""
    return Path(os.path.abspath(root.expanduser()))


def require_paths(corpus: str, root: Path, layout: str, required: Iterable[Path]) -> None:
    """Raise :func:`layout_error` for the first of ``required`` that does not exist (root first)."""
    if not root.exists():
        raise layout_error(corpus, root, layout, root)
    for path in required:
        if not path.exists():
            raise layout_error(corpus, root, layout, path)


def visible_files(folder: Path, pattern: str) -> list[Path]:
    """Files matching ``pattern`` in ``folder``, sorted, skipping dotfiles such as macOS ``._`` copies."""
    return sorted(path for path in folder.glob(pattern) if not path.name.startswith(".") and path.is_file())
