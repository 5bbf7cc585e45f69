"""Digest of the demo pipeline's outputs, to show that a refactor changed no byte of them.

Runs ``build --samples 2``, ``pairs``, ``grpo`` and the three exports on the bundled demo corpus with
the cotgen source tree given (``--src``, default: this checkout) in a temporary folder, and prints
one sha256 per output file. The source tree's path is replaced by ``<SRC>`` and the temporary folder's by
``<TMP>`` before hashing, since audio and run paths are absolute. Compare two trees (for example a worktree
of the previous commit)::

    python tools/demo_digest.py --src /tmp/before > before.txt
    python tools/demo_digest.py > after.txt && diff before.txt after.txt
"""

from __future__ import annotations

import argparse
import hashlib
import os
import subprocess
import sys
import tempfile
from pathlib import Path

COMPARED = ("traces.jsonl", "sft.jsonl", "dpo.jsonl", "grpo.jsonl", "rejects.jsonl")
COMMANDS = (
    ["build", "--samples", "2"],
    ["pairs"],
    ["grpo"],
    ["export", "--format", "trl"],
    ["export", "--format", "llamafactory"],
    ["export", "--format", "swift"],
)


def run_cli(src: Path, args: list[str], cwd: Path, env: dict[str, str]) -> None:
    """One cotgen command with ``src`` first on the import path."""
    code = (
        f"import sys; sys.path.insert(0, {str(src)!r}); sys.argv = ['cotgen', *{args!r}]; "
        "from cotgen.cli.main import main; main()"
    )
    subprocess.run([sys.executable, "-c", code], cwd=cwd, env=env, check=True, capture_output=True)


def digests(src: Path) -> dict[str, str]:
    """sha256 of every compared file the demo pipeline writes, with ``src`` written as ``<SRC>``."""
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        run = work / "run"
        env = {**os.environ, "XDG_CACHE_HOME": str(work / "cache"), "COLUMNS": "200"}
        for args in COMMANDS:
            option = ["--out", str(run)] if args[0] == "build" else ["--in", str(run)]
            run_cli(src, [*args, *option], work, env)
        result: dict[str, str] = {}
        for path in sorted(run.rglob("*")):
            if path.is_file() and (path.name in COMPARED or "export" in path.relative_to(run).parts[:1]):
                if path.suffix not in {".jsonl", ".json"} or path.name == "run.json":
                    continue
                data = path.read_bytes().replace(str(src.resolve()).encode(), b"<SRC>")
                data = data.replace(str(work).encode(), b"<TMP>")
                result[str(path.relative_to(run))] = hashlib.sha256(data).hexdigest()
        return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--src", type=Path, default=Path(__file__).resolve().parent.parent)
    args = parser.parse_args()
    for name, digest in digests(args.src.resolve()).items():
        print(f"{digest}  {name}")


if __name__ == "__main__":
    main()
