"""The package layering of docs/architecture.md holds: no stage imports a stage below it in the data flow.

The order is read from the architecture page itself (the numbered list between its ``layers`` markers), so the
page and the rule cannot drift apart. Every ``import`` and ``from ... import`` in every module counts, including
imports inside functions and under ``TYPE_CHECKING``: a lazy import still ties the lower stage to the higher one.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "cotgen"
ARCHITECTURE = ROOT / "docs" / "architecture.md"
# Top-level modules that are not stages: the package marker, ``python -m cotgen``, and the two re-exports that
# external tools name by path (they sit at the scoring layer).
SHIMS = {"__init__": None, "__main__": "cli", "rewards": "scoring", "swift_plugin": "scoring"}


def layer_order() -> list[str]:
    """The package names of the architecture page's layer list, lowest first."""
    text = ARCHITECTURE.read_text(encoding="utf-8")
    block = re.search(r"<!-- layers:.*?-->(.*?)<!-- /layers -->", text, re.S)
    assert block, f"{ARCHITECTURE}: no <!-- layers: ... --> ... <!-- /layers --> block"
    return re.findall(r"^\d+\. `(\w+)`", block.group(1), re.M)


def layer_of(module: str, order: list[str]) -> str | None:
    """The layer a dotted ``cotgen.*`` module name belongs to (None for the package itself)."""
    parts = module.split(".")
    if len(parts) == 1:
        return None
    head = parts[1]
    return SHIMS.get(head, head) if head in SHIMS else head


def imported_modules(path: Path) -> list[tuple[int, str]]:
    """Every cotgen module a file imports, with its line: absolute imports, relative ones resolved."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = ".".join(path.relative_to(ROOT).with_suffix("").parts[:-1])
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                name = ".".join([*base, node.module] if node.module else base)
            else:
                name = node.module or ""
            found.append((node.lineno, name))
            # ``from cotgen import stats`` names a module in the alias, not in ``module``.
            if name == "cotgen":
                found += [(node.lineno, f"cotgen.{alias.name}") for alias in node.names]
    return [(line, name) for line, name in found if name == "cotgen" or name.startswith("cotgen.")]


def violations(order: list[str]) -> list[str]:
    rank = {name: i for i, name in enumerate(order)}
    found: list[str] = []
    for path in sorted(PACKAGE.rglob("*.py")):
        own = layer_of(".".join(path.relative_to(ROOT).with_suffix("").parts), order)
        if own is None:
            continue
        for line, module in imported_modules(path):
            target = layer_of(module, order)
            if target is None or target == own:
                continue
            if target not in rank:
                found.append(f"{path.relative_to(ROOT)}:{line}: imports {module}, whose package is not in the layers")
            elif rank[target] > rank[own]:
                found.append(f"{path.relative_to(ROOT)}:{line}: {own} imports {module} ({target} is a higher layer)")
    return found


def test_every_package_is_a_listed_layer() -> None:
    order = layer_order()
    assert len(order) == len(set(order)) >= 10
    on_disk = {p.name for p in PACKAGE.iterdir() if (p / "__init__.py").exists()}
    on_disk |= {p.stem for p in PACKAGE.glob("*.py") if p.stem not in SHIMS}
    assert on_disk == set(order), "packages on disk and layers of docs/architecture.md differ"


def test_no_stage_imports_a_higher_stage() -> None:
    assert violations(layer_order()) == []


def test_a_downward_import_is_caught(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The checker itself fails on what it must catch: an import inside a function, and a relative one."""
    fake = tmp_path / "cotgen"
    (fake / "corpora").mkdir(parents=True)
    (fake / "export").mkdir()
    for package in ("corpora", "export"):
        (fake / package / "__init__.py").write_text("")
    (fake / "corpora" / "reader.py").write_text("def f():\n    from cotgen.build.run import run_build\n")
    (fake / "export" / "writer.py").write_text("from ..report import card\n")
    monkeypatch.setattr(__import__(__name__), "ROOT", tmp_path)
    monkeypatch.setattr(__import__(__name__), "PACKAGE", fake)
    found = violations(["core", "corpora", "build", "export", "report"])
    assert found == [
        "cotgen/corpora/reader.py:2: corpora imports cotgen.build.run (build is a higher layer)",
        "cotgen/export/writer.py:1: export imports cotgen.report (report is a higher layer)",
    ]
