"""Helper processes that end with the process they work for.

A kill -9 of ``cotgen build`` runs no clean-up: a process pool's workers would wait for work forever, and with
them the forkserver that forked them and the resource tracker they hold open (353 MB measured, still there 24
minutes later). So each worker watches the cotgen process (:func:`die_with`, the pool's initializer) and exits
when it ends; the forkserver and the tracker then see their last client go and exit on their own.
"""

from __future__ import annotations

import os
import select
import threading
import time

POLL_S = 0.5  # where the kernel has no pidfd (Linux before 5.3, other systems): how often to look


def _wait_for_exit(pid: int) -> None:
    """Return when process ``pid`` has ended."""
    try:
        handle = os.pidfd_open(pid)
    except (AttributeError, OSError):
        handle = None
    if handle is not None:
        select.select([handle], [], [])  # a pidfd turns readable when its process exits
        return
    while True:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        except PermissionError:
            pass
        time.sleep(POLL_S)


def die_with(pid: int) -> None:
    """Exit this process at once (no clean-up: its work is lost anyway) when process ``pid`` ends."""

    def watch() -> None:
        _wait_for_exit(pid)
        os._exit(1)

    threading.Thread(target=watch, name=f"cotgen-watch-{pid}", daemon=True).start()
