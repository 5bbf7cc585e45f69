"""Derived folders (an export, a review page, publish staging) written all-or-nothing, never over a user's files.

A derived folder is rebuilt whole: written into a hidden sibling (``.NAME.cotgen-tmp-PID``), sealed with the
list of files cotgen wrote (``.cotgen-files``), then exchanged with the old folder in one ``renameat2``
(``RENAME_EXCHANGE``), so a kill -9 at any moment leaves either the old complete folder or the new one. Where
the kernel cannot exchange, two renames are used and a later call puts a lost old folder back.

Before anything is written the existing folder is read: a file in it that cotgen did not write (not in its
``.cotgen-files``; for folders from before that list, not matching the writer's own names) stops the command
with a one-line error naming ``--force``. With ``force`` such files are carried over into the new folder, and
only a file cotgen writes under the same name replaces its namesake.
"""

from __future__ import annotations

import ctypes
import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from cotgen.core.errors import CotgenError

MANIFEST = ".cotgen-files"
CARD = "README.md"  # the dataset card cotgen writes into a run or export folder
CARD_ASIDE = "README.cotgen.md"  # where the card goes when a README.md that is not cotgen's is in the way
# The last line of every dataset card: how a later write knows a README.md is cotgen's to replace.
CARD_MARK = "<!-- written by cotgen: rerunning cotgen replaces this file; keep your own notes elsewhere -->"
TMP_TAG = ".cotgen-tmp-"
OLD_TAG = ".cotgen-old-"
_AT_FDCWD = -100
_RENAME_EXCHANGE = 2
R = TypeVar("R")


def written_files(folder: Path) -> list[str]:
    """Every file under ``folder``, relative, in POSIX form (the manifest itself left out)."""
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file() or p.is_symlink())


def _own_list(folder: Path) -> set[str] | None:
    try:
        listed = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return set(listed.get("files", [])) if isinstance(listed, dict) else None


def is_cotgen_card(path: Path) -> bool:
    """True when ``path`` is a dataset card cotgen wrote (its mark, or the generated line of cards before it)."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False
    return CARD_MARK in text or "made with\n[cotgen](https://pypi.org/project/cotgen/)" in text


def foreign_files(folder: Path, legacy_own: Callable[[Path, str], bool]) -> list[str]:
    """Files in ``folder`` cotgen did not write: not in its manifest (without one, ``legacy_own(folder, name)``
    false: a folder written before manifests existed)."""
    if not folder.is_dir():
        return []
    own = _own_list(folder)
    return [
        name
        for name in written_files(folder)
        if name != MANIFEST and not (name in own if own is not None else legacy_own(folder, name))
    ]


def claim(folder: Path, name: str) -> None:
    """Add ``folder/name``, written after the swap (a dataset card), to the manifest of the folder it lies in
    (``folder``'s own, or its parent's for a fold folder); nothing when neither is a derived folder."""
    for owner in (folder, folder.parent):
        own = _own_list(owner)
        if own is not None:
            own.add((folder / name).relative_to(owner).as_posix())
            manifest = json.dumps({"files": sorted(own)}, ensure_ascii=False) + "\n"
            (owner / MANIFEST).write_text(manifest, encoding="utf-8")
            return


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _leftovers(target: Path) -> None:
    """Tidy what a killed writer left beside ``target``: its temporary folder, or an old one to put back."""
    for tag in (OLD_TAG, TMP_TAG):
        for sibling in target.parent.glob(f".{target.name}{tag}*"):
            pid = sibling.name.rpartition("-")[2]
            if not pid.isdigit() or _alive(int(pid)):
                continue
            if tag == OLD_TAG and not target.exists():
                sibling.rename(target)  # killed between the two renames: the old folder is the complete one
            else:
                shutil.rmtree(sibling, ignore_errors=True)


def _exchange(a: Path, b: Path) -> bool:
    """Swap two paths in one step (Linux renameat2); False where the kernel or file system cannot."""
    try:
        renameat2 = ctypes.CDLL(None, use_errno=True).renameat2
    except (AttributeError, OSError):
        return False
    done = renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE)
    return done == 0


def replace_folder(
    target: Path,
    write: Callable[[Path], R],
    *,
    force: bool = False,
    option: str = "--out",
    legacy_own: Callable[[Path, str], bool] = lambda folder, name: False,
) -> R:
    """Run ``write(folder)`` into a temporary sibling of ``target`` and swap the result into place.

    Refuses (before writing) a ``target`` holding files cotgen did not write, unless ``force``. Returns what
    ``write`` returned. On any error the temporary folder goes and ``target`` is as it was.
    """
    if target.exists() and not target.is_dir():
        raise CotgenError(f"{option} {target}: is a file, not a folder")
    made = [folder for folder in (target.parent, *target.parent.parents) if not folder.exists()]
    target.parent.mkdir(parents=True, exist_ok=True)
    _leftovers(target)
    foreign = foreign_files(target, legacy_own)
    if foreign and not force:
        raise CotgenError(
            f"{option} {target} holds {len(foreign)} file(s) cotgen did not write (first {foreign[0]}); "
            "write to another folder, or pass --force to write there anyway (those files are kept)"
        )
    tmp = target.parent / f".{target.name}{TMP_TAG}{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    try:
        result = write(tmp)
        for name in foreign:  # --force: the user's files stay, unless cotgen wrote one of the same name
            if not (tmp / name).exists():
                (tmp / name).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(target / name, tmp / name, follow_symlinks=False)
        manifest = {"files": [n for n in written_files(tmp) if n not in foreign]}
        (tmp / MANIFEST).write_text(json.dumps(manifest, ensure_ascii=False) + "\n", encoding="utf-8")
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        for folder in made:  # the folders made for it, innermost first, when nothing else went into them
            try:
                folder.rmdir()
            except OSError:
                break
        raise
    if not target.exists():
        tmp.rename(target)
    elif _exchange(tmp, target):
        shutil.rmtree(tmp, ignore_errors=True)  # now the old folder
    else:
        old = target.parent / f".{target.name}{OLD_TAG}{os.getpid()}"
        target.rename(old)
        tmp.rename(target)
        shutil.rmtree(old, ignore_errors=True)
    return result
