"""Every ``from cotgen... import ...`` the README or docs/ show imports, and every module path they name exists.

Moving a module is then a failing test until the documentation moves with it (or a thin re-export stays, as for
``cotgen.rewards`` and ``cotgen/swift_plugin.py``, which trainer configs name).
"""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
IMPORT = re.compile(r"^\s*from (cotgen(?:\.\w+)*) import \(?([\w, ]+)\)?\s*(?:#.*)?$", re.M)
DOTTED = re.compile(r"`(cotgen(?:\.\w+)+)")  # `cotgen.a.b` or `cotgen.a.b(...)` in prose
FILE_NAMES = {"cotgen.log"}  # the run log's file name, not a module
FILE = re.compile(r"`(cotgen/[\w/]+\.py)`")


def _documented_imports() -> list[tuple[str, str, list[str]]]:
    found = []
    for doc in DOCUMENTS:
        for match in IMPORT.finditer(doc.read_text(encoding="utf-8")):
            names = [n.strip() for n in match.group(2).split(",") if n.strip()]
            found.append((doc.name, match.group(1), names))
    return found


@pytest.mark.parametrize(("doc", "module", "names"), _documented_imports())
def test_documented_import_works(doc: str, module: str, names: list[str]) -> None:
    imported = importlib.import_module(module)
    missing = [n for n in names if not hasattr(imported, n)]
    assert not missing, f"{doc}: from {module} import {', '.join(missing)} fails"


def _resolves(dotted: str) -> bool:
    """A documented ``cotgen.x.y.z`` is a module, or an attribute chain of the longest importable module."""
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:cut]))
        except ModuleNotFoundError:
            continue
        for attr in parts[cut:]:
            if not hasattr(obj, attr):
                return False
            obj = getattr(obj, attr)
        return True
    return False


def test_documented_module_paths_exist() -> None:
    wrong = []
    for doc in DOCUMENTS:
        text = doc.read_text(encoding="utf-8")
        wrong += [f"{doc.name}: {d}" for d in sorted(set(DOTTED.findall(text)) - FILE_NAMES) if not _resolves(d)]
        wrong += [f"{doc.name}: {f}" for f in sorted(set(FILE.findall(text))) if not (ROOT / f).exists()]
    assert wrong == []
