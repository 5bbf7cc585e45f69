"""README.md is for users, and its demo walk-through runs as written (issue 13 item 6).

Every line of the walk-through's code block is run by a shell, in order, in an empty folder, with the console
script of the interpreter running the tests: a command that fails, or that needs a file the walk-through never
makes, fails here before a user meets it.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

README = Path(__file__).resolve().parent.parent / "README.md"
MAX_LINES = 250


def section_code(title: str) -> list[str]:
    """The command lines of the first ``bash`` block under the ``## title`` heading (comments stripped)."""
    text = README.read_text(encoding="utf-8")
    section = text.split(f"## {title}\n", 1)[1].split("\n## ", 1)[0]
    block = re.search(r"```bash\n(.*?)```", section, re.S)
    assert block, f"README: no bash block under '## {title}'"
    return [line.split("  #", 1)[0].strip() for line in block.group(1).splitlines() if line.strip()]


def test_the_readme_is_short_and_names_no_commit() -> None:
    text = README.read_text(encoding="utf-8")
    assert len(text.splitlines()) <= MAX_LINES
    hashes = [
        word for word in re.findall(r"\b[0-9a-f]{7,40}\b", text) if re.search(r"\d", word) and re.search(r"[a-f]", word)
    ]
    assert hashes == []


def test_the_demo_walkthrough_runs_as_written(tmp_path: Path) -> None:
    commands = section_code("Walk-through on the demo corpus")
    assert {line.split()[1] for line in commands if line.startswith("cotgen ")} >= {"corpus", "prompt", "eval"}
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "HF_"))}
    env.update(
        PATH=f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}",
        XDG_CACHE_HOME=str(tmp_path / "cache"),
        COLUMNS="120",
    )
    work = tmp_path / "work"
    work.mkdir()
    for command in commands:
        done = subprocess.run(command, shell=True, cwd=work, env=env, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, f"{command}\n{done.stdout}\n{done.stderr}"
        assert "error:" not in done.stderr and "Traceback" not in done.stderr, f"{command}\n{done.stderr}"
    run = work / "outputs" / "demo"
    for name in ("utterances.jsonl", "features.parquet", "traces.jsonl", "dpo.jsonl", "grpo.jsonl", "README.md"):
        assert (run / name).is_file(), name
    assert any((run / "export" / "trl").glob("sft_test.jsonl")) and any((run / "plots").glob("*.png"))
