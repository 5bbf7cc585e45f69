"""A generator run in a forked helper process, its items handed back in order, so its CPU is another core's.

Why: a build's items are prepared one by one (the utterance read back from disk and validated, its cue
profile, its prompt inputs and its fingerprint) on the thread that also checks the teacher's answers and
writes the records. On a rerun answered from the response cache that preparation was a quarter of each item's
time, and on two cores the other core sat idle. A forked child inherits everything the generator needs
(the corpus columns, the feature rows, the plan) without copying or pickling it, runs the generator, and
sends its items back pickled in batches through a pipe; the parent unpickles an item in a tenth of the time
it took to make.

What stays true: the items arrive in the generator's order, each exactly as the generator made it (an item's
objects keep their shared references within a batch); an exception raised by the generator is raised in the
parent after the items made before it, and an item that cannot be pickled is an error in place of its batch;
a child that dies (killed, out of memory) is an error naming how, never a silent end of the items. Read-ahead
is bounded: the child blocks once the pipe holds about a batch, so at most a few batches are made before they
are consumed. The child ignores Ctrl-C (the terminal sends it to the whole process group); the parent decides
what a Ctrl-C means and ends the child when it leaves the context. Only on Linux: ``fork`` is what makes the
hand-over free, and macOS's system libraries are not fork-safe; elsewhere, or when the fork itself fails, the
generator runs in the parent as before.

Fork before starting threads of your own (a progress display's refresher): a lock held by another thread
at the fork stays held in the child.
"""

from __future__ import annotations

import multiprocessing
import pickle
import signal
import sys
import traceback
import warnings
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from typing import TypeVar

from cotgen.core.errors import CotgenError

Item = TypeVar("Item")
MAX_BATCH = 64  # items per message: a batch is a few hundred kilobytes at most for a build's items
_ITEMS, _END, _ERROR = "items", "end", "error"
_JOIN_S = 5.0


def fork_available() -> bool:
    """Whether generators run in a forked child here (Linux, where fork is safe for what cotgen loads)."""
    return sys.platform.startswith("linux")


@contextmanager
def forked_items(make: Callable[[], Iterable[Item]], max_batch: int = MAX_BATCH) -> Iterator[Iterator[Item]]:
    """The items of ``make()``, made in a forked child and received in order; the child ends with the context.

    Batches grow from one item to ``max_batch`` (doubling), so the first item arrives as soon as it is made
    and a consumer that waits on it (a teacher's first request) is not held up by a batch.
    """
    if not fork_available():
        yield iter(make())
        return
    context = multiprocessing.get_context("fork")
    receiver, sender = context.Pipe(duplex=False)
    child = _started(context.Process(target=_produce, args=(make, receiver, sender, max_batch), daemon=True))
    if child is None:  # no fork possible (process limit, memory): the generator runs here instead
        receiver.close()
        sender.close()
        yield iter(make())
        return
    sender.close()  # the child's copy stays open: the parent's read ends at EOF when the child's closes
    try:
        yield _received(receiver, child)
    finally:
        receiver.close()  # a child blocked on a full pipe gets BrokenPipeError and ends
        child.join(_JOIN_S)
        if child.exitcode is None:
            child.kill()
            child.join()
        child.close()


def _started(child: BaseProcess) -> BaseProcess | None:
    """``child`` started with SIGINT blocked across the fork, or None when the system cannot fork.

    The child starts with SIGINT blocked and ignores it before unblocking it, so a Ctrl-C at that instant
    cannot interrupt it; the parent receives any that came meanwhile when it unblocks.
    """
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        with warnings.catch_warnings():
            # Python 3.12+ warns at every fork of a process with other threads. Here they are numpy's OpenBLAS
            # pool, which its own fork handlers stop and restart, and threads of the caller's (a test's server)
            # whose locks the child never takes; cotgen's own (the progress display) start after the fork.
            warnings.filterwarnings("ignore", "This process .* is multi-threaded", DeprecationWarning)
            child.start()
    except OSError:
        return None
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)
    return child


def _received(receiver: Connection, child: BaseProcess) -> Iterator[Item]:
    while True:
        try:
            kind, payload = receiver.recv()
        except EOFError:
            child.join(_JOIN_S)
            raise CotgenError(
                f"the helper process preparing the items ended without finishing ({_exit_status(child.exitcode)});"
                " what was done is kept and a rerun does the rest"
            ) from None
        if kind == _ITEMS:
            yield from payload
        elif kind == _END:
            return
        else:
            raise payload


def _exit_status(code: int | None) -> str:
    if code is not None and code < 0:
        return f"killed by {signal.Signals(-code).name}"
    return f"exit status {code}"


def _produce(make: Callable[[], Iterable[Item]], receiver: Connection, sender: Connection, max_batch: int) -> None:
    """The child: ignore Ctrl-C, send the items, then the end or the exception that stopped them."""
    receiver.close()  # the parent's end: held open here, a parent that stops reading would never be noticed
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
    try:
        _send_items(make, sender, max_batch)
    except (BrokenPipeError, ConnectionResetError):
        pass  # the parent stopped reading (it is done with the items, or it ended): nothing left to send to
    finally:
        sender.close()


def _send_items(make: Callable[[], Iterable[Item]], sender: Connection, max_batch: int) -> None:
    batch: list[Item] = []
    size = 1
    items = iter(make())
    while True:
        try:
            item = next(items)
        except StopIteration:
            break
        # Relayed, not handled: the generator's error is raised in the parent after the items made before it.
        except Exception as exc:  # noqa: BLE001
            if batch:
                _send(sender, batch)
            sender.send((_ERROR, _sendable(exc)))
            return
        batch.append(item)
        if len(batch) >= size:
            if not _send(sender, batch):
                return
            batch = []
            size = min(2 * size, max_batch)
    if batch and not _send(sender, batch):
        return
    sender.send((_END, None))


def _send(sender: Connection, batch: list[Item]) -> bool:
    """Send a batch; False when it cannot be pickled, after sending that error in its place."""
    try:
        sender.send((_ITEMS, batch))
    except (pickle.PicklingError, TypeError, AttributeError) as exc:  # what pickling an odd object raises
        sender.send((_ERROR, _sendable(exc)))
        return False
    return True


def _sendable(exc: Exception) -> Exception:
    """``exc`` itself when it survives pickling, else an error carrying its type, message and traceback.

    An error that is not the user's (not a :class:`CotgenError`: a bug) takes its traceback in the child along as
    a note (Python 3.11+), since the parent's traceback ends where it re-raises it.
    """
    add_note = getattr(exc, "add_note", None)
    if add_note is not None and not isinstance(exc, CotgenError):
        where = "".join(traceback.format_tb(exc.__traceback__))
        add_note(f"raised in the helper process preparing the items:\n{where}")
    try:
        pickle.loads(pickle.dumps(exc))
    except (pickle.PickleError, TypeError, AttributeError, ValueError):  # e.g. __init__ needing other arguments
        text = "".join(traceback.format_exception(exc)).rstrip()
        return RuntimeError(f"in the helper process preparing the items: {text}")
    return exc
