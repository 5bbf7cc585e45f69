"""One writer per run folder: a lock file (``filelock``) held while a command writes the folder.

Two builds into one folder would both pay for the same items, and ``pairs``, ``grpo`` and ``export``
running at once would race on ``run.json``. A command that writes a run folder holds
``.cotgen.lock`` for as long as it writes; a second writer fails at once with one line naming the
holder's pid, command and start time (kept beside the lock in ``.cotgen.lock.json``, since the lock
file itself is truncated by every contender). Commands that only read a run folder (``eval``, and
``publish``, which stages into its own folder) take no lock.

The lock is re-entrant within a process: a build that updates ``run.json`` and then writes the card
holds it once, and library code can take it around any write without knowing whether its caller did.
The operating system drops the lock when the holder dies, so a killed command never leaves the folder
locked; its holder file is then stale and simply overwritten by the next writer.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from filelock import FileLock, Timeout

from cotgen.core.errors import CotgenError

LOCK_FILE = ".cotgen.lock"
HOLDER_FILE = ".cotgen.lock.json"

_held: dict[Path, int] = {}  # run folder -> how many nested holds this process has
_guard = threading.Lock()


class RunLockedError(CotgenError):
    """Another process is writing the run folder."""


def _holder(run_dir: Path) -> str:
    """Who holds the lock, as recorded by the holder; a neutral phrase when it could not be read."""
    try:
        info = json.loads((run_dir / HOLDER_FILE).read_text(encoding="utf-8"))
        return f"pid {info['pid']} ({info['command']}, since {info['since']})"
    except (OSError, ValueError, KeyError, TypeError):
        return "another process"


@contextmanager
def run_lock(run_dir: Path, command: str, wait: float = 0.0, create: bool = True) -> Iterator[None]:
    """Hold the run folder's lock while the block runs; :class:`RunLockedError` when another process holds it.

    ``command`` names this writer for the error a second writer sees (e.g. ``"cotgen build"``). A
    command fails at once (``wait`` 0); a short write such as one ``run.json`` update may wait up to
    ``wait`` seconds for another one to finish. ``create=False`` is for commands that write into an
    existing run (``predict``, ``review``): a missing folder is left for their own check to name, not made here.
    """
    if not create and not run_dir.is_dir():
        yield
        return
    key = run_dir.resolve()
    with _guard:
        nested = _held.get(key, 0)
        if nested:
            _held[key] = nested + 1
    if nested:
        try:
            yield
        finally:
            with _guard:
                _held[key] -= 1
        return
    run_dir.mkdir(parents=True, exist_ok=True)
    lock = FileLock(run_dir / LOCK_FILE, thread_local=False)
    try:
        lock.acquire(timeout=wait)
    except Timeout:
        raise RunLockedError(
            f"{run_dir} is being written by {_holder(run_dir)}; wait for it to finish, "
            "or write to another folder (--out)"
        ) from None
    try:
        holder = {"pid": os.getpid(), "command": command, "since": dt.datetime.now(dt.timezone.utc).isoformat()}
        tmp = run_dir / (HOLDER_FILE + ".tmp")
        tmp.write_text(json.dumps(holder), encoding="utf-8")
        tmp.replace(run_dir / HOLDER_FILE)
        with _guard:
            _held[key] = 1
        try:
            yield
        finally:
            with _guard:
                del _held[key]
            (run_dir / HOLDER_FILE).unlink(missing_ok=True)
    finally:
        lock.release()
