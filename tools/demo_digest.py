"""Digest of the demo pipeline's outputs, to show that a refactor changed no byte of them.

Runs ``build --samples 2``, ``pairs``, ``grpo`` and the three exports on the bundled demo corpus with
the cotgen source tree given (``--src``, default: this checkout) in a temporary folder, and prints
one sha256 per output file. Audio paths are absolute and every record's fingerprint hashes its clip's path, so
the demo corpus is first copied to one fixed folder (:data:`CORPUS_COPY`) and read from there (``--root``):
two source trees then give records with the same paths and fingerprints. The temporary folder's path is
replaced by ``<TMP>`` before hashing. Compare two trees (for example a worktree of the previous commit)::

    python tools/demo_digest.py --src /tmp/before > before.txt
    python tools/demo_digest.py > after.txt && diff before.txt after.txt
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

# One path for the demo's clips whatever the source tree: records of two trees must not differ by where they live.
CORPUS_COPY = Path(tempfile.gettempdir()) / "cotgen-demo-digest" / "demo"
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
    """sha256 of every compared file the demo pipeline writes from ``src``'s demo, read at :data:`CORPUS_COPY`."""
    shutil.rmtree(CORPUS_COPY, ignore_errors=True)
    shutil.copytree(src / "corpora" / "demo", CORPUS_COPY)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        run = work / "run"
        env = {**os.environ, "XDG_CACHE_HOME": str(work / "cache"), "COLUMNS": "200"}
        for args in COMMANDS:
            option = ["--out", str(run), "--root", str(CORPUS_COPY)] if args[0] == "build" else ["--in", str(run)]
            run_cli(src, [*args, *option], work, env)
        result: dict[str, str] = {}
        for path in sorted(run.rglob("*")):
            if path.is_file() and (path.name in COMPARED or "export" in path.relative_to(run).parts[:1]):
                if path.suffix not in {".jsonl", ".json"} or path.name == "run.json":
                    continue
                data = path.read_bytes().replace(str(work).encode(), b"<TMP>")
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
