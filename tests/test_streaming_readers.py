"""The late stages read a run in constant memory: a run ten times larger must not cost ten times more.

Issue 7 item 1: the dataset card written at the end of every build used to read every record file
whole (~2.4 GB at 100,000 utterances). Here a real fixture run is repeated under new ids into a run
of N and one of 10 N utterances, and :mod:`tracemalloc` measures the peak of Python allocations
while the card, the statistics, an export and the plot numbers are computed. Holding the records
would cost tens of kilobytes per utterance and grow tenfold; what may grow is the id index (a few
dozen bytes per utterance) and, for the plots, arrays of floats. Memory is measured, never time.
"""

from __future__ import annotations

import json
import tracemalloc
from collections.abc import Callable
from pathlib import Path

import pytest
from test_export_fixtures import make_run

from cotgen.build.state import traces_fingerprint
from cotgen.core.errors import CotgenError
from cotgen.export.record_readers import RecordFile, load_run
from cotgen.export.writer import export_run
from cotgen.records.run_records import SFTRecord
from cotgen.report.card import write_card
from cotgen.report.plots import gather_plot_data
from cotgen.report.stats import compute_stats

RECORD_FILES = ("utterances", "traces", "sft", "dpo", "grpo")
SMALL, LARGE = 10, 100  # copies of the 15-utterance fixture run
MAX_GROWTH_BYTES_PER_UTTERANCE = 256


def scaled_run(source: Path, target: Path, copies: int) -> Path:
    """A run folder holding ``copies`` repetitions of every record of ``source``, each under a new id."""
    target.mkdir(parents=True)
    for name in RECORD_FILES:
        rows = [json.loads(line) for line in (source / f"{name}.jsonl").read_text(encoding="utf-8").splitlines()]
        with (target / f"{name}.jsonl").open("w", encoding="utf-8") as handle:
            for copy in range(copies):
                for row in rows:
                    handle.write(json.dumps({**row, "id": f"{row['id']}_{copy:05d}"}, ensure_ascii=False) + "\n")
    # The sections `cotgen pairs` and `cotgen grpo` write: dpo.jsonl and grpo.jsonl were made from these traces.
    made_from = {"traces_fingerprint": traces_fingerprint(target)}
    (target / "run.json").write_text(json.dumps({"pairs": made_from, "grpo": made_from}), encoding="utf-8")
    return target


def _traced_peak(work: Callable[[], object]) -> int:
    tracemalloc.start()
    try:
        work()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def peak_bytes(work: Callable[[], object]) -> int:
    """Peak Python allocation while ``work`` runs, after a warm-up run has filled caches and imports.

    The lower of two runs: a process-wide table that happens to grow during one run (the interned
    strings, for one, which pathlib adds to) would otherwise charge megabytes to whichever reader
    was running. Memory a reader itself holds shows up in both runs.
    """
    work()
    return min(_traced_peak(work), _traced_peak(work))


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, int]:
    """(run of N utterances, run of 10 N utterances, N)."""
    root = tmp_path_factory.mktemp("streaming")
    source = make_run(root / "source")
    utterances = sum(1 for _ in (source / "utterances.jsonl").open(encoding="utf-8"))
    return scaled_run(source, root / "small", SMALL), scaled_run(source, root / "large", LARGE), SMALL * utterances


def _stats(run: Path) -> object:
    data = load_run(run)
    return compute_stats(data.utterances, data.traces, data.dpo, sft=len(data.sft), grpo=len(data.grpo))


READERS: dict[str, Callable[[Path], object]] = {
    "card": write_card,
    "stats": _stats,
    "export": lambda run: export_run(run, "swift", split="loso:1"),
    "export-speaker-split": lambda run: export_run(run, "trl", split="speaker:0.2,0.2"),
}


@pytest.mark.parametrize("reader", sorted(READERS))
def test_reading_a_ten_times_larger_run_does_not_take_ten_times_the_memory(
    runs: tuple[Path, Path, int], reader: str
) -> None:
    small, large, n = runs
    read = READERS[reader]
    small_peak, large_peak = peak_bytes(lambda: read(small)), peak_bytes(lambda: read(large))
    growth_per_utterance = (large_peak - small_peak) / (9 * n)
    assert large_peak < 3 * small_peak, (reader, small_peak, large_peak)
    assert growth_per_utterance < MAX_GROWTH_BYTES_PER_UTTERANCE, (reader, growth_per_utterance)


def test_plot_numbers_grow_by_a_few_floats_per_trace_not_by_records(runs: tuple[Path, Path, int]) -> None:
    small, large, n = runs
    small_peak = peak_bytes(lambda: gather_plot_data(load_run(small)))
    large_peak = peak_bytes(lambda: gather_plot_data(load_run(large)))
    assert (large_peak - small_peak) / (9 * n) < MAX_GROWTH_BYTES_PER_UTTERANCE


def test_the_larger_run_is_read_whole(runs: tuple[Path, Path, int]) -> None:
    """The measurements above mean something only if every record of the large run is read."""
    _, large, n = runs
    stats = _stats(large)
    assert stats.utterances == 10 * n and stats.traces == 20 * n and stats.dpo == 10 * n
    result = export_run(large, "swift", split="loso:1")
    assert sum(result.files.values()) == 3 * 10 * n
    assert f"| utterances | {10 * n} |" in write_card(large).read_text(encoding="utf-8")


def test_the_measure_catches_a_reader_that_holds_the_records(runs: tuple[Path, Path, int]) -> None:
    """A reader that keeps every trace (what the card did before) fails both bounds above."""
    small, large, n = runs
    small_peak = peak_bytes(lambda: list(load_run(small).traces))
    large_peak = peak_bytes(lambda: list(load_run(large).traces))
    assert large_peak > 3 * small_peak
    assert (large_peak - small_peak) / (9 * n) > MAX_GROWTH_BYTES_PER_UTTERANCE


def test_a_record_file_counts_lines_without_parsing_and_names_a_bad_line(tmp_path: Path) -> None:
    run = make_run(tmp_path)
    lines = (run / "sft.jsonl").read_text(encoding="utf-8").splitlines()
    (run / "sft.jsonl").write_text("\n".join([lines[0], "", lines[1], "{not json"]) + "\n", encoding="utf-8")
    sft = RecordFile(run / "sft.jsonl", SFTRecord)
    assert len(sft) == 3 and bool(sft)
    assert sft.first() is not None and sft.first().id == json.loads(lines[0])["id"]
    with pytest.raises(CotgenError, match=r"sft\.jsonl:4: not a valid SFTRecord"):
        list(sft)
    missing = RecordFile(run / "absent.jsonl", SFTRecord)
    assert len(missing) == 0 and not missing and list(missing) == [] and missing.first() is None
    (run / "blank.jsonl").write_text("\n\n", encoding="utf-8")
    assert not RecordFile(run / "blank.jsonl", SFTRecord)


def test_an_export_that_fails_part_way_leaves_no_half_written_file(tmp_path: Path) -> None:
    run = make_run(tmp_path)
    dpo = (run / "dpo.jsonl").read_text(encoding="utf-8").splitlines()
    stranger = json.dumps({**json.loads(dpo[0]), "id": "nobody"})
    (run / "dpo.jsonl").write_text("\n".join([*dpo, stranger]) + "\n", encoding="utf-8")
    out = tmp_path / "export"
    with pytest.raises(CotgenError, match=r"dpo\.jsonl: record 16 \(nobody\) has no utterance"):
        export_run(run, "swift", split="loso:1", out_dir=out)
    # The export is written beside its folder and swapped in whole: a failed one leaves no folder at all.
    assert not out.exists() and not list(tmp_path.glob(".export*"))
