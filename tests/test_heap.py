"""cotgen.core.heap.frozen_heap: what lives when teaching starts is kept out of the collector's walks, then freed."""

from __future__ import annotations

import gc

from cotgen.core.heap import frozen_heap


class Node:
    pass


def test_objects_alive_at_the_start_are_frozen_and_unfrozen_at_the_end() -> None:
    alive = [Node() for _ in range(100)]
    assert gc.get_freeze_count() == 0
    with frozen_heap():
        frozen = gc.get_freeze_count()
        assert frozen >= len(alive)
        made_inside = [Node() for _ in range(100)]
        assert gc.get_freeze_count() == frozen  # what teaching makes is collected as usual
    assert gc.get_freeze_count() == 0
    assert len(made_inside) == 100


def test_a_build_teaches_with_the_heap_frozen_and_leaves_nothing_frozen(tmp_path, cache, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from cotgen.build import BuildConfig, run_build
    from cotgen.build.state import RunState

    seen: list[int] = []
    record = RunState.record

    def noting(self, outcome):  # type: ignore[no-untyped-def]
        seen.append(gc.get_freeze_count())
        return record(self, outcome)

    monkeypatch.setattr(RunState, "record", noting)
    summary = run_build(BuildConfig(out=tmp_path / "out", cache=cache, progress=False, limit=4))
    assert summary.traces > 0 and len(seen) == summary.traces + summary.rejects
    assert min(seen) > 10_000  # every record was written with the loaded modules and corpus frozen
    assert gc.get_freeze_count() == 0
