"""Every ``from cotgen... import ...`` the README or docs/ show imports, and every module path they name exists.

Moving a module is then a failing test until the documentation moves with it (or a thin re-export stays, as for
``cotgen.rewards`` and ``cotgen/swift_plugin.py``, which trainer configs name).
"""

from __future__ import annotations

import ast
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


def _source(module: str) -> Path | None:
    """The file of a cotgen module (``a/b.py`` or ``a/b/__init__.py``), None when there is none."""
    base = ROOT.joinpath(*module.split("."))
    return next((path for path in (base.with_suffix(".py"), base / "__init__.py") if path.is_file()), None)


def _defined_names(source: Path) -> set[str]:
    """Top-level names a module defines or imports, read without importing it (its extra may be absent)."""
    names: set[str] = set()
    for node in ast.parse(source.read_text(encoding="utf-8")).body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names.update((alias.asname or alias.name).split(".")[0] for alias in node.names)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names.update(t.id for t in targets if isinstance(t, ast.Name))
    return names


def _missing_extra(error: ModuleNotFoundError) -> bool:
    """The import failed for a third-party module (an optional extra not installed), not for a cotgen module."""
    return error.name is not None and error.name.split(".")[0] != "cotgen"


@pytest.mark.parametrize(("doc", "module", "names"), _documented_imports())
def test_documented_import_works(doc: str, module: str, names: list[str]) -> None:
    try:
        imported = importlib.import_module(module)
    except ModuleNotFoundError as error:
        source = _source(module)
        if source is None or not _missing_extra(error):
            raise
        # the extra is absent here: the module must still define every documented name (read from its source)
        undefined = [n for n in names if n not in _defined_names(source)]
        assert not undefined, f"{doc}: {module} defines no {', '.join(undefined)}"
        pytest.skip(f"{module} needs {error.name} (an optional extra, e.g. pip install 'cotgen[train]')")
    missing = [n for n in names if not hasattr(imported, n)]
    assert not missing, f"{doc}: from {module} import {', '.join(missing)} fails"


def _resolves(dotted: str) -> bool:
    """A documented ``cotgen.x.y.z`` is a module, or an attribute chain of the longest importable module.

    A module whose optional extra is not installed is resolved from its source instead: the module file exists
    and defines the next name of the chain.
    """
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        module = ".".join(parts[:cut])
        try:
            obj = importlib.import_module(module)
        except ModuleNotFoundError as error:
            source = _source(module)
            if source is not None and _missing_extra(error):
                return len(parts) == cut or parts[cut] in _defined_names(source)
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
