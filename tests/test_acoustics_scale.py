"""Extraction at scale: the content-hash cache, the process pool, any executor (Dask), the stage and the CLI."""

from __future__ import annotations

import csv
import dataclasses
from collections.abc import Callable
from concurrent.futures import Executor, Future
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import soundfile as sf
from typer.testing import CliRunner

from cotgen.acoustics import (
    FEATURE_COLUMNS,
    AnalysisSettings,
    extract_features,
    read_features,
    run_features_stage,
    write_features,
)
from cotgen.cli.main import get_app
from cotgen.core.errors import CotgenError
from cotgen.records.utterance import Utterance

SR = 16000


class CountingExecutor(Executor):
    """Runs tasks inline and counts the items sent, so a test can see what was (not) recomputed."""

    def __init__(self) -> None:
        self.items: list[str] = []

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future:
        self.items.extend(item_id for item_id, _ in args[0])
        future: Future = Future()
        future.set_result(fn(*args, **kwargs))
        return future


def tone(path: Path, f0: float, seconds: float = 1.0) -> str:
    t = np.arange(int(seconds * SR)) / SR
    phase = 2 * np.pi * f0 * t
    signal = sum(np.sin(k * phase) / k for k in range(1, 8)) * 0.1 * (1 + 0.5 * np.sin(2 * np.pi * 3 * t))
    sf.write(path, signal, SR)
    return str(path)


@pytest.fixture
def clips(tmp_path: Path) -> list[tuple[str, str]]:
    folder = tmp_path / "audio"
    folder.mkdir()
    return [(f"u{i}", tone(folder / f"u{i}.wav", 110 + 15 * i)) for i in range(6)]


def test_a_rerun_computes_nothing_and_changed_audio_only_itself(tmp_path: Path, clips: list) -> None:
    cache = tmp_path / "cache"
    first = CountingExecutor()
    table = extract_features(clips, cache_dir=cache, executor=first, progress=False)
    assert sorted(first.items) == sorted(item_id for item_id, _ in clips)

    rerun = CountingExecutor()
    again = extract_features(clips, cache_dir=cache, executor=rerun, progress=False)
    assert rerun.items == []
    pd.testing.assert_frame_equal(again, table)

    tone(Path(clips[2][1]), 300.0)
    changed = CountingExecutor()
    updated = extract_features(clips, cache_dir=cache, executor=changed, progress=False)
    assert changed.items == ["u2"]
    assert updated.loc[2, "f0_median_hz"] == pytest.approx(300.0, rel=0.02)
    pd.testing.assert_frame_equal(updated.drop(index=2), table.drop(index=2))


def test_changed_settings_recompute_and_identical_audio_is_analysed_once(tmp_path: Path, clips: list) -> None:
    cache = tmp_path / "cache"
    copy = tmp_path / "copy.wav"
    copy.write_bytes(Path(clips[0][1]).read_bytes())
    items = [*clips, ("copy", str(copy))]
    first = CountingExecutor()
    table = extract_features(items, cache_dir=cache, executor=first, progress=False)
    assert "copy" not in first.items and len(first.items) == len(clips)
    row = table.set_index("id")
    assert row.loc["copy", FEATURE_COLUMNS].equals(row.loc["u0", FEATURE_COLUMNS])

    other = dataclasses.replace(AnalysisSettings(), min_pause_s=0.25)
    recomputed = CountingExecutor()
    extract_features(items, cache_dir=cache, executor=recomputed, progress=False, settings=other)
    assert len(recomputed.items) == len(clips)


def test_missing_audio_is_a_row_not_a_crash_with_or_without_cache(tmp_path: Path, clips: list) -> None:
    items = [*clips, ("gone", str(tmp_path / "gone.wav"))]
    for cache in (None, tmp_path / "cache"):
        table = extract_features(items, workers=1, cache_dir=cache, progress=False)
        assert list(table["id"]) == [item_id for item_id, _ in items]
        assert table["error"].tolist() == [None] * len(clips) + ["missing file"]


def test_process_pool_gives_the_same_table_as_one_process(clips: list) -> None:
    serial = extract_features(clips, workers=1, progress=False)
    parallel = extract_features(clips, workers=2, progress=False)
    pd.testing.assert_frame_equal(parallel, serial)
    assert serial["error"].isna().all()


def utterances_for(clips: list[tuple[str, str]]) -> list[Utterance]:
    return [
        Utterance(
            id=item_id,
            corpus="t",
            audio=path,
            speaker="s",
            vote_counts={"neu": 1.0},
            distribution={"neu": 1.0},
            majority="neu",
            n_annotators=1,
        )
        for item_id, path in clips
    ]


def test_dask_local_cluster_gives_the_same_table_as_the_local_run(tmp_path: Path, clips: list) -> None:
    distributed = pytest.importorskip("distributed")  # in the test extra, so CI runs it
    utts = utterances_for(clips)
    local = run_features_stage(utts, tmp_path / "local", workers=1, cache_dir=tmp_path / "c1", progress=False)
    with distributed.LocalCluster(
        n_workers=1, threads_per_worker=1, processes=False, dashboard_address=None
    ) as cluster:
        on_dask = run_features_stage(
            utts, tmp_path / "dask", cache_dir=tmp_path / "c2", dask_scheduler=cluster.scheduler_address, progress=False
        )
    pd.testing.assert_frame_equal(on_dask, local)
    pd.testing.assert_frame_equal(read_features(tmp_path / "dask" / "features.parquet"), local)


def test_features_parquet_has_fixed_types_and_round_trips(tmp_path: Path, clips: list) -> None:
    table = run_features_stage(utterances_for(clips), tmp_path, workers=1, cache_dir=tmp_path / "c", progress=False)
    schema = pq.read_schema(tmp_path / "features.parquet")
    assert schema.names == ["id", *FEATURE_COLUMNS, "error"]
    assert schema.field("error").type == pa.string() and schema.field("id").type == pa.string()
    assert all(schema.field(name).type == pa.float64() for name in FEATURE_COLUMNS)
    pd.testing.assert_frame_equal(read_features(tmp_path / "features.parquet"), table)


def test_reading_a_table_of_another_shape_says_what_is_missing(tmp_path: Path, clips: list) -> None:
    table = extract_features(clips[:1], workers=1, progress=False)
    path = tmp_path / "features.parquet"
    write_features(path, table)
    pq.write_table(pq.read_table(path).drop(["hnr_db"]), path)
    with pytest.raises(CotgenError, match=r"features.parquet: missing columns \['hnr_db'\]"):
        read_features(path)


def test_cli_measures_a_manifest_corpus_and_reports_missing_audio(tmp_path: Path, clips: list) -> None:
    manifest = tmp_path / "manifest.csv"
    with manifest.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "audio", "transcript", "speaker", "gender", "session", "votes"])
        for item_id, path in clips:
            writer.writerow([item_id, path, "hello there", "s1", "F", "1", "neu;neu;hap"])
        writer.writerow(["lost", str(tmp_path / "lost.wav"), "gone", "s1", "F", "1", "neu"])
    args = ["features", "--corpus", "manifest", "--root", str(manifest), "--out", str(tmp_path / "run")]
    args += ["--cache", str(tmp_path / "cache"), "--workers", "1", "--no-progress", "--allow-missing-audio"]
    result = CliRunner().invoke(get_app(), args)
    assert result.exit_code == 0, result.output
    assert f"measured {len(clips)} of {len(clips) + 1} utterances" in result.output
    assert "not measured (missing file): 1" in result.output
    table = read_features(tmp_path / "run" / "features.parquet")
    assert table.set_index("id").loc["lost", "error"] == "missing file"
    assert table.set_index("id").loc["u0", "f0_median_hz"] == pytest.approx(110.0, rel=0.02)


class DyingExecutor(CountingExecutor):
    """Fails the first task as a process pool does when its worker is killed; the others finish."""

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future:
        if not self.items:
            self.items.extend(item_id for item_id, _ in args[0])
            future: Future = Future()
            future.set_exception(BrokenProcessPool("A child process terminated abruptly"))
            return future
        return super().submit(fn, *args, **kwargs)


def test_a_dead_worker_stops_the_run_with_one_line_and_finished_work_is_kept(tmp_path: Path, clips: list) -> None:
    cache = tmp_path / "cache"
    with pytest.raises(CotgenError, match="worker process died .* rerun to continue"):
        extract_features(clips, workers=len(clips), cache_dir=cache, executor=DyingExecutor(), progress=False)
    resumed = CountingExecutor()
    extract_features(clips, cache_dir=cache, executor=resumed, progress=False)
    assert resumed.items == [clips[0][0]]  # every batch but the lost one was cached
