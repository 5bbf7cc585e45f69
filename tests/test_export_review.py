"""``cotgen export --review``: rejected traces stay out of every trainer file, the rest stays, the card counts."""

from __future__ import annotations

import json
from collections import Counter
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from pydantic import ValidationError
from review_run import build_review_run, invoke, lines

from cotgen.core.errors import CotgenError
from cotgen.export.review_marks import read_review, source_sample
from cotgen.export.writer import export_run
from cotgen.records.review import ReviewRecord

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=timezone.utc)


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_review_run(tmp_path_factory.mktemp("export-review"))


def _write(path: Path, marks: list[dict]) -> Path:
    path.write_text("".join(json.dumps(m) + "\n" for m in marks), encoding="utf-8")
    return path


def _mark(id_: str, sample: int, verdict: str, minutes: int = 0, note: str = "") -> dict:
    return {
        "id": id_,
        "sample": sample,
        "verdict": verdict,
        "note": note,
        "reviewed_at": (T0 + timedelta(minutes=minutes)).isoformat(),
    }


def _rows(folder: Path, kind: str) -> list[dict]:
    return [row for path in sorted(folder.glob(f"{kind}_*.jsonl")) for row in lines(path)]


def test_source_labels_name_the_trace_they_came_from() -> None:
    assert [source_sample(s) for s in ("gold", "corrupt:flat", "sample:3", "rollout:1", "sample:x")] == [
        0,
        0,
        3,
        None,
        None,
    ]


def test_review_record_requires_a_verdict_and_a_zoned_time() -> None:
    ReviewRecord.model_validate(_mark("a", 0, "flag"))
    with pytest.raises(ValidationError):
        ReviewRecord.model_validate(_mark("a", 0, "maybe"))
    with pytest.raises(ValidationError):
        ReviewRecord.model_validate({**_mark("a", 0, "reject"), "reviewed_at": "2026-12-01T09:00:00"})


def test_rejected_traces_and_their_pairs_are_left_out_and_counted(run: Path, tmp_path: Path) -> None:
    pairs = lines(run / "dpo.jsonl")
    gold_rejected = pairs[0]["id"]  # its gold trace is the chosen side of its pair
    sample_pair = next(p for p in pairs if p["source_rejected"].startswith("sample:") and p["id"] != gold_rejected)
    sample_rejected = (sample_pair["id"], int(sample_pair["source_rejected"].split(":")[1]))
    accepted = next(p["id"] for p in pairs if p["id"] not in (gold_rejected, sample_rejected[0]))
    review = _write(
        tmp_path / "review.jsonl",
        [
            _mark(gold_rejected, 0, "reject", note="label noise"),
            _mark(*sample_rejected, "reject"),
            _mark(accepted, 0, "accept"),
            _mark(accepted, 1, "flag", note="odd pitch claim"),
        ],
    )
    plain = export_run(run, "trl", out_dir=tmp_path / "plain")
    result = export_run(run, "trl", out_dir=tmp_path / "reviewed", review=review)
    sft, dpo, grpo = (_rows(tmp_path / "reviewed", k) for k in ("sft", "dpo", "grpo"))
    assert {r["id"] for r in _rows(tmp_path / "plain", "sft")} - {r["id"] for r in sft} == {gold_rejected}
    dropped = [
        p
        for p in pairs
        if p["id"] == gold_rejected
        or (p["id"], p["source_rejected"]) == (sample_pair["id"], sample_pair["source_rejected"])
    ]
    plain_dpo = Counter(r["id"] for r in _rows(tmp_path / "plain", "dpo"))
    assert Counter(r["id"] for r in dpo) == plain_dpo - Counter(p["id"] for p in dropped)
    assert gold_rejected not in {r["id"] for r in dpo} and len(dropped) >= 2
    by_id = {r["id"]: r for r in grpo}
    assert by_id[gold_rejected]["gold_trace"] is None
    assert all(r["gold_trace"] for i, r in by_id.items() if i != gold_rejected) and len(grpo) == len(
        _rows(tmp_path / "plain", "grpo")
    )
    assert accepted in {r["id"] for r in sft} and accepted in {r["id"] for r in dpo}
    assert result.review == {
        "file": str(review),
        "reviewed": 4,
        "accept": 1,
        "reject": 2,
        "flag": 1,
        "superseded": 0,
        "stale": 0,
        "left_out": {"sft": 1, "dpo": len(dropped), "grpo_gold_trace": 1},
    }
    assert plain.review is None
    export_info = json.loads((tmp_path / "reviewed" / "export.json").read_text(encoding="utf-8"))
    assert export_info["review"] == result.review


def test_the_latest_verdict_on_a_trace_wins(run: Path, tmp_path: Path) -> None:
    first = lines(run / "utterances.jsonl")[0]["id"]
    review = _write(
        tmp_path / "review.jsonl",
        [_mark(first, 0, "reject", minutes=5), _mark(first, 0, "accept", minutes=1), _mark(first, 1, "flag")],
    )
    marks = read_review(review, run / "traces.jsonl")
    assert marks.superseded == 1 and marks.rejected == {(first, 0)}
    review = _write(
        tmp_path / "review.jsonl", [_mark(first, 0, "reject", minutes=1), _mark(first, 0, "accept", minutes=5)]
    )
    assert read_review(review, run / "traces.jsonl").rejected == set()


def test_a_mark_on_a_trace_redone_since_the_review_is_not_applied(
    run: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A verdict judged one text: once a rebuild replaced the trace (another fingerprint) it must not reject the new."""
    traces = {(t["id"], t["sample"]): t["fingerprint"] for t in lines(run / "traces.jsonl")}
    (first, _), (second, _) = sorted(key for key in traces if key[1] == 0)[:2]
    current = {**_mark(first, 0, "reject"), "fingerprint": traces[(first, 0)]}
    redone = {**_mark(second, 0, "reject"), "fingerprint": "0" * 64}
    legacy = _mark(second, 1, "reject")  # written without a fingerprint: applied as before
    marks = read_review(_write(tmp_path / "review.jsonl", [current, redone, legacy]), run / "traces.jsonl")
    assert marks.rejected == {(first, 0), (second, 1)}
    assert marks.stale == 1 and marks.summary()["stale"] == 1 and marks.summary()["reviewed"] == 2
    assert f"1 marks judged traces that were redone since (first: id {second!r} sample 0)" in caplog.text


def test_marks_of_another_run_or_a_bad_line_fail_clearly(run: Path, tmp_path: Path) -> None:
    stray = _write(tmp_path / "stray.jsonl", [_mark("elsewhere_01", 0, "reject")])
    with pytest.raises(CotgenError, match=r"1 marks name no trace of .*id 'elsewhere_01' sample 0.*another run"):
        read_review(stray, run / "traces.jsonl")
    bad = tmp_path / "bad.jsonl"
    bad.write_text(
        json.dumps(_mark("x", 0, "accept")) + "\n" + '{"id": "x", "sample": 0, "verdict": "nope"}\n', encoding="utf-8"
    )
    with pytest.raises(CotgenError, match=r"bad\.jsonl:2: not a valid ReviewRecord"):
        read_review(bad, run / "traces.jsonl")
    with pytest.raises(CotgenError, match=r"--review .*missing\.jsonl: no such file"):
        read_review(tmp_path / "missing.jsonl", run / "traces.jsonl")


def test_the_cli_reports_and_the_card_counts_the_review(run: Path, tmp_path: Path) -> None:
    first = lines(run / "utterances.jsonl")[0]["id"]
    review = _write(tmp_path / "review.jsonl", [_mark(first, 0, "reject"), _mark(first, 1, "accept")])
    output = invoke(
        ["export", "--format", "swift", "--in", str(run), "--out", str(tmp_path / "x"), "--review", str(review)]
    )
    assert "review: 2 traces reviewed, 1 rejected" in output
    card = (tmp_path / "x" / "README.md").read_text(encoding="utf-8")
    assert "- Review: 2 traces reviewed by hand\n  (1 accepted, 1 rejected, 0 flagged)" in card
