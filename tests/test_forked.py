"""cotgen.core.forked: a generator run in a forked child hands back exactly its items, in order, and its errors.

Each test forks for real (Linux); the fallback (no fork) is checked by switching fork off.
"""

from __future__ import annotations

import itertools
import os
import signal
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cotgen.core import forked
from cotgen.core.errors import CotgenError
from cotgen.core.forked import forked_items

pytestmark = pytest.mark.skipif(not forked.fork_available(), reason="fork is only used on Linux")


@dataclass(frozen=True)
class Shared:
    values: list[int]


@settings(max_examples=25, deadline=None)
@given(st.lists(st.integers() | st.text(max_size=20), max_size=300), st.integers(1, 70))
def test_the_items_arrive_in_order_and_equal(items: list[object], max_batch: int) -> None:
    with forked_items(lambda: iter(items), max_batch=max_batch) as received:
        assert list(received) == items


def test_the_items_are_made_in_another_process() -> None:
    parent = os.getpid()
    with forked_items(lambda: (os.getpid() for _ in range(5))) as received:
        pids = list(received)
    assert len(pids) == 5 and parent not in pids and len(set(pids)) == 1


def test_objects_shared_between_items_stay_shared_within_a_batch() -> None:
    # Two samples of one utterance share its record in the plan; they do after the hand-over too.
    def make() -> Iterator[tuple[int, Shared]]:
        yield (-1, Shared([]))  # the first batch holds one item: each pair then falls within a batch
        for n in range(40):
            shared = Shared([n])
            yield (0, shared)
            yield (1, shared)

    with forked_items(make, max_batch=8) as received:
        items = list(received)
    pairs = list(zip(items[1::2], items[2::2]))
    assert len(pairs) == 40 and all(first[1] is second[1] for first, second in pairs)


def test_an_error_of_the_generator_is_raised_after_the_items_before_it() -> None:
    def make() -> Iterator[int]:
        yield from range(10)
        raise CotgenError("utterances.jsonl:11: not a valid Utterance (id: Field required)")

    received_items: list[int] = []
    with forked_items(make) as received:
        with pytest.raises(CotgenError, match=r"utterances.jsonl:11: not a valid Utterance"):
            for item in received:
                received_items.append(item)
    assert received_items == list(range(10))


def test_an_error_that_cannot_be_pickled_arrives_as_its_text() -> None:
    class Odd(Exception):
        def __init__(self, a: int, b: int) -> None:  # pickling calls Odd(message): unpickling fails
            super().__init__(f"odd {a} {b}")

    def make() -> Iterator[int]:
        yield 1
        raise Odd(2, 3)

    with forked_items(make) as received:
        assert next(received) == 1
        with pytest.raises(RuntimeError, match=r"(?s)helper process.*Odd: odd 2 3"):
            next(received)


def test_an_item_that_cannot_be_pickled_is_an_error_not_a_silent_end() -> None:
    def make() -> Iterator[object]:
        yield 1
        yield lambda: None  # a local function cannot be pickled

    with forked_items(make) as received:
        assert next(received) == 1
        with pytest.raises(Exception, match="pickle"):
            next(received)


def test_a_child_that_dies_is_an_error_naming_how() -> None:
    def make() -> Iterator[int]:
        yield from range(3)
        os.kill(os.getpid(), signal.SIGKILL)
        yield 99

    with forked_items(make) as received:
        got = []
        with pytest.raises(CotgenError, match=r"ended without finishing \(killed by SIGKILL\).*a rerun does the rest"):
            for item in received:
                got.append(item)
    assert got == [0, 1, 2]


def test_the_child_ignores_ctrl_c() -> None:
    # The terminal sends Ctrl-C to the whole process group: the parent decides what it means, the child goes on.
    def make() -> Iterator[int]:
        for n in range(200):
            if n == 100:
                os.kill(os.getpid(), signal.SIGINT)
            yield n

    with forked_items(make, max_batch=4) as received:
        assert list(received) == list(range(200))


def test_leaving_early_ends_an_endless_child_at_once() -> None:
    started = time.monotonic()
    with forked_items(lambda: itertools.count(), max_batch=64) as received:
        assert [next(received) for _ in range(5)] == [0, 1, 2, 3, 4]
        child_pids = [p.pid for p in __import__("multiprocessing").active_children()]
    assert time.monotonic() - started < forked._JOIN_S  # the child saw the closed pipe, it was not killed
    assert child_pids and not __import__("multiprocessing").active_children()


def test_read_ahead_is_bounded() -> None:
    made: list[int] = []
    marker = os.pipe()

    def make() -> Iterator[bytes]:
        for n in itertools.count():
            os.write(marker[1], b".")  # the parent counts what the child made
            yield b"x" * 10_000
            made.append(n)

    with forked_items(make, max_batch=8) as received:
        next(received)
        time.sleep(0.5)  # plenty for the child to run ahead if nothing held it
        os.set_blocking(marker[0], False)
        count = len(os.read(marker[0], 1_000_000))
    os.close(marker[0])
    os.close(marker[1])
    # the pipe holds 64 KiB (6 items of 10 kB) and a batch is 8: a bounded few batches, not the endless rest
    assert 1 < count < 60


def test_without_fork_the_generator_runs_here(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(forked, "fork_available", lambda: False)
    with forked_items(lambda: (os.getpid() for _ in range(3))) as received:
        assert list(received) == [os.getpid()] * 3


@pytest.mark.skipif(sys.version_info < (3, 11), reason="exception notes are Python 3.11+")
def test_a_bug_in_the_generator_arrives_with_where_it_was_raised_in_the_child() -> None:
    def make_items() -> Iterator[int]:
        yield 1
        raise ValueError("a bug")

    with forked_items(make_items) as received:
        assert next(received) == 1
        with pytest.raises(ValueError, match="a bug") as raised:
            next(received)
    notes = "\n".join(getattr(raised.value, "__notes__", []))
    assert "helper process" in notes and "make_items" in notes


def test_a_users_error_arrives_as_it_is_one_line() -> None:
    def make() -> Iterator[int]:
        raise CotgenError("utterances.jsonl:1: not a valid Utterance")
        yield 0

    with forked_items(make) as received, pytest.raises(CotgenError) as raised:
        next(received)
    assert not getattr(raised.value, "__notes__", None)
