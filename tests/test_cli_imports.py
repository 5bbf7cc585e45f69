"""``cotgen --help`` and ``cotgen COMMAND --help`` load no heavy library, so they answer at once.

Before, ``cotgen --help`` took 2.1-2.3 s on a quiet 2-core machine, 1.9 s of it importing the OpenAI client through
the batch command's module. Every command module now imports its library inside the command function
(cotgen/cli/options.py says so); this test runs each help in a fresh interpreter, as a user would, and looks at
``sys.modules`` afterwards. tests/benchmarks/bench_cli_startup.py prints the time beside ``python -c pass``.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import typer.main

from cotgen.cli.main import get_app

HEAVY = ("openai", "pandas", "pyarrow", "matplotlib", "scipy", "parselmouth", "librosa", "numpy", "huggingface_hub")
PROBE = """
import json, sys
watched = json.loads(sys.argv[2])
sys.argv = ["cotgen", *json.loads(sys.argv[1])]
from cotgen.cli.main import main
try:
    main()
except SystemExit:
    pass
print(json.dumps(sorted(m for m in watched if m in sys.modules)), file=sys.stderr)
"""


def _command_paths() -> list[list[str]]:
    def walk(path: list[str], command: object) -> list[list[str]]:
        found = [path]
        for name, sub in getattr(command, "commands", {}).items():
            found += walk([*path, name], sub)
        return found

    return walk([], typer.main.get_command(get_app()))


def _loaded_after(args: list[str]) -> list[str]:
    done = subprocess.run(
        [sys.executable, "-c", PROBE, json.dumps(args), json.dumps(HEAVY)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stderr.strip().splitlines()[-1])


@pytest.mark.parametrize("path", _command_paths(), ids=lambda p: " ".join(p) or "cotgen")
def test_help_loads_no_heavy_module(path: list[str]) -> None:
    assert _loaded_after([*path, "--help"]) == []


def test_the_probe_sees_a_heavy_import() -> None:
    """The probe is not blind: a command that does load the libraries (here ``corpora``) shows them."""
    assert "numpy" in _loaded_after(["corpora"])
