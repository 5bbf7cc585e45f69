"""Every module cotgen imports is a declared dependency, and the openai requirement brings the HTTP library it uses.

Issue 22 item 5: cotgen imported ``httpx2`` while pyproject allowed ``openai>=1.40``, whose 1.x and 2.x releases
bring ``httpx`` instead; a module that is only there because some other package happens to pull it in breaks
the day that package stops. The import graph is read from the source (every ``import`` statement of
``cotgen/``, however deep in a function), so a lazy import counts as much as a top-level one.
"""

from __future__ import annotations

import ast
import re
import sys
from importlib import metadata
from pathlib import Path

import tomllib

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "cotgen"
# Imported, but not a dependency cotgen can declare, with the reason.
NOT_DECLARED = {
    "swift": "ms-swift imports cotgen's reward plugin inside its own process; cotgen never installs it",
    "distributed": "brought by the dask extra as dask[distributed]",
}
# The first openai release built on httpx2 (its 1.x and 2.x require httpx): checked against PyPI's metadata of
# openai 2.54.0 (httpx<1,>=0.23.0) and 3.0.0 (httpx2<3,>=2.7.0) when the requirement was raised.
OPENAI_FIRST_ON_HTTPX2 = (3, 0)


def _normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _requirement_name(requirement: str) -> str:
    match = re.match(r"[A-Za-z0-9._-]+", requirement.strip())
    assert match, requirement
    return _normalise(match.group(0))


def _project() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]


def _imported_modules() -> dict[str, list[str]]:
    """Top-level module name -> where it is imported (file:line), for every absolute import in cotgen/."""
    found: dict[str, list[str]] = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                if top in sys.stdlib_module_names or top in ("cotgen", "__future__"):
                    continue
                found.setdefault(top, []).append(f"{path.relative_to(ROOT)}:{node.lineno}")
    return found


def _providers(module: str, known: dict[str, list[str]]) -> set[str]:
    """The distributions that install ``module``: importlib's map, else any whose files hold it (an extension
    module such as parselmouth's ``parselmouth.*.so`` appears in no package list)."""
    if module in known:
        return {_normalise(d) for d in known[module]}
    found = set()
    for dist in metadata.distributions():
        for file in dist.files or []:
            if file.parts and file.parts[0].split(".")[0] == module and not file.parts[0].endswith(".dist-info"):
                found.add(_normalise(dist.metadata["Name"]))
                break
    return found


def test_every_imported_module_comes_from_a_declared_distribution() -> None:
    project = _project()
    declared = {_requirement_name(r) for r in project["dependencies"]}
    declared |= {_requirement_name(r) for extra in project["optional-dependencies"].values() for r in extra}
    known = metadata.packages_distributions()
    undeclared = {}
    for module, where in _imported_modules().items():
        if module in NOT_DECLARED or _normalise(module) in declared:  # named as it is imported (torch, ...)
            continue
        distributions = _providers(module, known)
        assert distributions, f"{module} (imported at {where[0]}) is installed by no distribution"
        if not distributions & declared:
            undeclared[module] = (sorted(distributions), where[0])
    assert undeclared == {}, f"imported but not declared in pyproject.toml: {undeclared}"


def test_the_openai_requirement_brings_the_http_library_cotgen_imports() -> None:
    imported = _imported_modules()
    assert "httpx" not in imported, "openai>=3 is built on httpx2; httpx would be a second, undeclared client"
    requirements = {_requirement_name(r): r for r in _project()["dependencies"]}
    assert "httpx2" in imported and "httpx2" in requirements
    bound = re.search(r">=\s*(\d+)\.(\d+)", requirements["openai"])
    assert bound and (int(bound[1]), int(bound[2])) >= OPENAI_FIRST_ON_HTTPX2, requirements["openai"]
    # The openai installed here is one the requirement allows, and it is built on the same library.
    installed = metadata.requires("openai") or []
    assert any(_requirement_name(r) == "httpx2" for r in installed), installed
