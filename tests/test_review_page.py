"""``cotgen review`` on a real demo run, read back from the files it writes (the browser tests drive the page).

The data files are JavaScript calls around JSON; these tests strip the call and check the JSON against the
run: one table row per trace or reject, the cue checks by the build's own rule, audio links that resolve,
and nothing that would make the page reach the network.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from urllib.parse import unquote

import pytest
from review_run import (
    REJECTED_ID,
    REJECTED_SAMPLE,
    UNFAITHFUL_CUE,
    UNFAITHFUL_ID,
    build_review_run,
    invoke,
    lines,
)

from cotgen.core.errors import CotgenError
from cotgen.records.trace import cue_agrees
from cotgen.review import write_review
from cotgen.review.page import CHUNK


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_review_run(tmp_path_factory.mktemp("review"))


def _call_args(path: Path, function: str) -> list:
    text = path.read_text(encoding="utf-8")
    match = re.fullmatch(rf"{function}\((.*)\);\n", text, re.S)
    assert match, f"{path} is not a single {function}(...) call"
    return json.loads(f"[{match.group(1)}]")


def _details(out: Path) -> dict[str, dict]:
    found = {}
    for chunk in sorted((out / "data" / "detail").glob("*.js")):
        number, details = _call_args(chunk, "cotgenDetail")
        assert chunk.stem == f"{number:05d}" and len(details) <= CHUNK
        found.update({d["id"]: d for d in details})
    return found


def test_the_table_has_one_row_per_trace_or_reject_in_corpus_order(run: Path, tmp_path: Path) -> None:
    output = invoke(["review", "--in", str(run), "--out", str(tmp_path / "page")])
    assert "1 rejects" in output and "file://" in output
    (table,) = _call_args(tmp_path / "page" / "data" / "table.js", "cotgenTable")
    utterances = lines(run / "utterances.jsonl")
    assert table["utterances"]["id"] == [u["id"] for u in utterances]
    items = table["items"]
    keys = [(table["utterances"]["id"][u], s) for u, s in zip(items["u"], items["sample"])]
    traces = {(t["id"], t["sample"]): t for t in lines(run / "traces.jsonl")}
    expected = sorted(
        [*traces, (REJECTED_ID, REJECTED_SAMPLE)], key=lambda k: ([u["id"] for u in utterances].index(k[0]), k[1])
    )
    assert keys == expected
    for n, key in enumerate(keys):
        if key in traces:
            assert items["js"][n] == pytest.approx(traces[key]["js"], abs=1e-4)
            assert items["faith"][n] == pytest.approx(traces[key]["faithfulness"], abs=1e-4)
            assert items["amb"][n] == traces[key]["trace"]["ambiguity"]["level"] and items["reason"][n] is None
        else:
            assert items["reason"][n] == "schema_invalid" and items["js"][n] is None


def test_each_cue_is_checked_by_the_faithfulness_rule_and_the_planted_mismatch_is_marked(
    run: Path, tmp_path: Path
) -> None:
    summary = write_review(run, tmp_path / "page")
    assert summary.faithfulness_changed == 0  # the page's levels are the build's levels
    details = _details(tmp_path / "page")
    assert set(details) == {u["id"] for u in lines(run / "utterances.jsonl")}
    mismatches = []

    def share(verdicts: list) -> float | None:
        known = [v for v in verdicts if v is not None]
        return sum(known) / len(known) if known else None

    for detail in details.values():
        for trace in detail["traces"]:
            cues = trace["cues"]
            cited = [c for c in cues if c["claimed"] is not None]
            # The rows say what the score counted: each part is the share of its verdicts over the rows.
            assert trace["parts"]["exact"] == pytest.approx(share([c["exact"] for c in cited]), abs=1e-4)
            assert trace["parts"]["within_one"] == pytest.approx(share([c["agrees"] for c in cited]), abs=1e-4)
            assert trace["parts"]["salient_recall"] == pytest.approx(share([c["salient"] for c in cues]), abs=1e-4)
            assert trace["faith_now"] == trace["faith"]
            assert [c["cue"] for c in cues if c["claimed"] is None] == []  # the template teacher cites every cue
            for cue in cited:
                assert cue["agrees"] == cue_agrees(cue["cue"], cue["claimed"], cue["measured"])
                if cue["agrees"] is False:
                    mismatches.append((detail["id"], trace["sample"], cue["cue"]))
    assert mismatches == [(UNFAITHFUL_ID, 0, UNFAITHFUL_CUE)]
    rejected = details[REJECTED_ID]
    assert [r["sample"] for r in rejected["rejects"]] == [REJECTED_SAMPLE]
    assert [t["sample"] for t in rejected["traces"]] == [0, 1]
    pairs = {(p["id"], p["source_chosen"], p["source_rejected"]) for p in lines(run / "dpo.jsonl")}
    shown = {(d["id"], p["source_chosen"], p["source_rejected"]) for d in details.values() for p in d["pairs"]}
    assert shown == pairs and pairs


@pytest.mark.parametrize("copy", [False, True])
def test_audio_links_resolve_from_the_page_folder(run: Path, tmp_path: Path, copy: bool) -> None:
    out = tmp_path / "page"
    summary = write_review(run, out, copy_audio=copy)
    assert summary.audio_missing == 0 and summary.audio_copied == (24 if copy else 0)
    for detail in _details(out).values():
        target = (out / unquote(detail["audio"])).resolve()
        assert target.is_file()
        assert target.read_bytes() == Path(detail["audio_path"]).read_bytes()
        assert (target.parent == (out / "audio").resolve()) is copy


def test_a_missing_clip_is_counted_and_named_not_linked(run: Path, tmp_path: Path) -> None:
    moved = tmp_path / "run"
    moved.mkdir()
    for name in ("traces.jsonl", "rejects.jsonl", "dpo.jsonl", "features.parquet"):
        (moved / name).write_bytes((run / name).read_bytes())
    utterances = lines(run / "utterances.jsonl")
    utterances[0]["audio"] = str(tmp_path / "gone.wav")
    (moved / "utterances.jsonl").write_text("".join(json.dumps(u) + "\n" for u in utterances), encoding="utf-8")
    summary = write_review(moved)
    assert summary.audio_missing == 1 and summary.out_dir == moved / "review"
    first = _details(moved / "review")[utterances[0]["id"]]
    assert first["audio"] is None and first["audio_path"] == str(tmp_path / "gone.wav")


def test_nothing_written_points_off_the_machine(run: Path, tmp_path: Path) -> None:
    write_review(run, tmp_path / "page")
    for path in (tmp_path / "page").rglob("*"):
        if path.suffix in (".html", ".js", ".css"):
            text = path.read_text(encoding="utf-8")
            assert not re.search(r"\b(?:https?:)?//[a-z]", text, re.I), f"{path} names a network address"
            assert "fetch(" not in text and "XMLHttpRequest" not in text and "import(" not in text


def test_a_trace_of_an_unknown_utterance_is_a_clear_error(run: Path, tmp_path: Path) -> None:
    broken = tmp_path / "run"
    broken.mkdir()
    for name in ("utterances.jsonl", "traces.jsonl", "features.parquet"):
        (broken / name).write_bytes((run / name).read_bytes())
    stray = json.loads((run / "traces.jsonl").read_text(encoding="utf-8").splitlines()[0])
    stray["id"] = "not_in_the_corpus"
    with (broken / "traces.jsonl").open("a", encoding="utf-8") as handle:
        handle.write(json.dumps(stray) + "\n")
    line = len(lines(broken / "traces.jsonl"))
    with pytest.raises(CotgenError, match=rf"traces\.jsonl:{line}: id 'not_in_the_corpus' is not in utterances\.jsonl"):
        write_review(broken)


def test_a_bad_record_fails_with_its_line_and_leaves_the_last_good_page(run: Path, tmp_path: Path) -> None:
    broken = tmp_path / "run"
    broken.mkdir()
    for name in ("utterances.jsonl", "traces.jsonl", "features.parquet"):
        (broken / name).write_bytes((run / name).read_bytes())
    good = write_review(broken)
    before = sorted(p.relative_to(good.out_dir) for p in good.out_dir.rglob("*"))
    traces = (broken / "traces.jsonl").read_text(encoding="utf-8").splitlines()
    bad = json.loads(traces[40])
    del bad["trace"]["acoustic"]
    traces[40] = json.dumps(bad)
    (broken / "traces.jsonl").write_text("\n".join(traces) + "\n", encoding="utf-8")
    with pytest.raises(CotgenError, match=r"traces\.jsonl:41: not a valid TraceRecord"):
        write_review(broken)
    assert sorted(p.relative_to(good.out_dir) for p in good.out_dir.rglob("*")) == before
    (table,) = _call_args(good.out_dir / "data" / "table.js", "cotgenTable")
    assert len(table["items"]["u"]) == good.traces


def test_a_run_without_features_shows_cues_as_unchecked(run: Path, tmp_path: Path) -> None:
    bare = tmp_path / "run"
    bare.mkdir()
    for name in ("utterances.jsonl", "traces.jsonl"):
        (bare / name).write_bytes((run / name).read_bytes())
    write_review(bare)
    details = _details(bare / "review")
    assert all(not d["measured"] for d in details.values())
    assert all(
        c["agrees"] is None and c["measured"] is None for d in details.values() for t in d["traces"] for c in t["cues"]
    )


def test_a_missing_run_folder_is_an_error_and_nothing_is_created(tmp_path: Path) -> None:
    with pytest.raises(CotgenError, match=r"no such run folder"):
        write_review(tmp_path / "nope")
    assert not (tmp_path / "nope").exists()


def test_each_trace_shows_what_the_reasoning_rewards_pay_it_and_the_header_the_negatives(
    run: Path, tmp_path: Path
) -> None:
    from cotgen.rewards import reasoning_reward

    write_review(run, tmp_path / "page")
    details = _details(tmp_path / "page")
    utterances = {u["id"]: u for u in lines(run / "utterances.jsonl")}
    texts = {(t["id"], t["sample"]): t["text"] for t in lines(run / "traces.jsonl")}
    shown = 0
    for detail in details.values():
        for trace in detail["traces"]:
            reward = trace["reward"]
            # The faithfulness the reward reads off the text is the build's rule on the same measured levels.
            assert reward["faithfulness"] == pytest.approx(trace["faith_now"], abs=1e-4)
            levels = {c["cue"]: c["measured"] for c in trace["cues"]}
            text = texts[(detail["id"], trace["sample"])]
            target = utterances[detail["id"]]["distribution"]
            expected = reasoning_reward([text], target_distribution=[target], cue_levels=[levels])[0]
            if trace["sample"] == 0:  # the gold's distribution is the human one, as the reward's target
                assert reward["combined"] == pytest.approx(expected, abs=1e-3)
                shown += 1
    assert shown
    index = (tmp_path / "page" / "index.html").read_text(encoding="utf-8")
    by_kind = json.loads((run / "run.json").read_text(encoding="utf-8"))["pairs"]["by_kind"]
    for kind, row in by_kind.items():
        if kind != "gold":
            assert f"{kind} {row['chosen']} ({row['inconsistent']})" in index
