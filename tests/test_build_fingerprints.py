"""Input fingerprints (issue 11 item 1): a rerun redoes exactly the items whose inputs changed, and says how many.

Each test changes one thing that decides a record's content (the votes, --self-eval, the prompts, the
teacher, the server) and rebuilds into the same folder; the old records of the changed items must be
replaced, every other item skipped, and each (id, sample) must stay in the files exactly once.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import shutil
from collections import Counter
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from loopback_server import LoopbackServer
from pydantic import BaseModel
from test_corpora_iemocap import release  # noqa: F401  (the IEMOCAP fixture, reused)

from cotgen.build.fingerprint import FingerprintContext
from cotgen.build.outcome import Item
from cotgen.build.run import BuildConfig, BuildSummary, WorkPlan, prepare, prompt_inputs, run_build
from cotgen.build.state import RunState
from cotgen.core.divergence import round_distribution
from cotgen.core.errors import CotgenError
from cotgen.core.paths import CORPORA_DIR, PROMPTS_DIR
from cotgen.corpora import load_corpus
from cotgen.prompts.templates import FeatureLine, PromptInputs, load_prompts
from cotgen.records.fingerprint import canonical_json, fingerprint, fingerprint_json, server_identity
from cotgen.records.run_records import RejectRecord, SFTRecord, TraceRecord
from cotgen.records.trace import parse_trace
from cotgen.records.utterance import ContextTurn, Utterance

DEMO = 24


@pytest.fixture
def server() -> Iterator[LoopbackServer]:
    with LoopbackServer() as srv:
        yield srv


def _manifest(folder: Path, votes: dict[str, str] | None = None) -> Path:
    """The demo manifest with absolute audio paths and some utterances' votes replaced."""
    folder.mkdir(parents=True, exist_ok=True)
    rows = list(csv.DictReader((CORPORA_DIR / "demo" / "manifest.csv").open(encoding="utf-8")))
    for row in rows:
        row["audio"] = str(CORPORA_DIR / "demo" / row["audio"])
        row["votes"] = (votes or {}).get(row["id"], row["votes"])
    path = folder / "manifest.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


def _lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()] if path.exists() else []


def _traces(out: Path) -> dict[tuple[str, int], TraceRecord]:
    records = [TraceRecord.model_validate(r) for r in _lines(out / "traces.jsonl")]
    keys = Counter((t.id, t.sample) for t in records)
    assert all(n == 1 for n in keys.values()), "an item is in traces.jsonl twice"
    return {(t.id, t.sample): t for t in records}


def _model_build(base_url: str, out: Path, cache: Path, **options: object) -> BuildSummary:
    settings: dict[str, object] = {"limit": 3, "samples": 1, "timeout": 5.0, "backoff_base": 0.02, "concurrency": 2}
    settings.update(options)
    teacher = str(settings.pop("teacher", "openai:loopback"))
    config = BuildConfig(teacher=teacher, base_url=base_url, out=out, cache=cache, progress=False, **settings)
    return run_build(config)


def test_changed_votes_redo_exactly_that_utterances_items(tmp_path: Path, cache: Path) -> None:
    before = _manifest(tmp_path / "before")
    after = _manifest(tmp_path / "after", {"demo_spk1_02": "sad;sad;sad;neu;sad"})  # was hap;hap;hap;neu;hap
    out = tmp_path / "run"
    options = {"corpus": "manifest", "out": out, "cache": cache, "progress": False, "samples": 1}
    first = run_build(BuildConfig(root=before, **options))
    assert (first.traces, first.stale) == (2 * DEMO, 0)
    old = _traces(out)
    second = run_build(BuildConfig(root=after, **options))
    assert (second.stale, second.new_traces, second.skipped, second.traces) == (2, 2, 2 * DEMO - 2, 2 * DEMO)
    new = _traces(out)
    changed = {key for key in new if new[key].model_dump() != old[key].model_dump()}
    assert changed == {("demo_spk1_02", 0), ("demo_spk1_02", 1)}
    gold = new[("demo_spk1_02", 0)]
    assert gold.distribution == round_distribution({"neu": 0.2, "hap": 0.0, "ang": 0.0, "sad": 0.8})
    assert gold.js == 0.0 and gold.fingerprint != old[("demo_spk1_02", 0)].fingerprint
    assert parse_trace(gold.text, ["neu", "hap", "ang", "sad"], True).distribution == gold.distribution
    sft = {r["id"]: SFTRecord.model_validate(r) for r in _lines(out / "sft.jsonl")}
    assert '"sad": 0.80' in sft["demo_spk1_02"].completion[0]["content"]
    run = json.loads((out / "run.json").read_text())
    assert run["counts"]["this_run"]["stale"] == 2
    third = run_build(BuildConfig(root=after, **options))
    assert (third.stale, third.new_traces, third.skipped) == (0, 0, 2 * DEMO)


def test_records_without_a_fingerprint_are_stale(tmp_path: Path, cache: Path) -> None:
    """Records written before fingerprints existed cannot be vouched for: a rerun redoes them."""
    _ = run_build(BuildConfig(out=tmp_path, cache=cache, progress=False, limit=2))
    lines = _lines(tmp_path / "traces.jsonl")
    lines[0]["fingerprint"] = None
    (tmp_path / "traces.jsonl").write_text("".join(json.dumps(line) + "\n" for line in lines))
    again = run_build(BuildConfig(out=tmp_path, cache=cache, progress=False, limit=2))
    assert (again.stale, again.new_traces, again.traces) == (1, 1, 2)
    assert all(t.fingerprint for t in _traces(tmp_path).values())


def test_toggling_self_eval_redoes_the_items_whose_distribution_changes(
    tmp_path: Path,
    cache: Path,
    release: Path,  # noqa: F811
) -> None:
    without = {u.id: u.distribution for u in load_corpus("iemocap", release, allow_missing_audio=True).utterances}
    with_self = {
        u.id: u.distribution
        for u in load_corpus("iemocap", release, self_eval=True, allow_missing_audio=True).utterances
    }
    moved = {i for i in without if with_self[i] != without[i]}
    assert 0 < len(moved) < len(without)
    options = {"corpus": "iemocap", "root": release, "allow_missing_audio": True, "cache": cache, "progress": False}
    out = tmp_path / "run"
    first = run_build(BuildConfig(out=out, **options))
    assert first.stale == 0 and first.traces + first.rejects == len(without)
    toggled = run_build(BuildConfig(out=out, self_eval=True, **options))
    assert toggled.stale == len(moved)
    assert toggled.skipped == len(without) - len(moved)
    back = run_build(BuildConfig(out=out, **options))
    assert back.stale == len(moved)
    records = [*_lines(out / "traces.jsonl"), *_lines(out / "rejects.jsonl")]
    assert Counter((r["id"], r["sample"]) for r in records) == Counter({(i, 0): 1 for i in without})
    rejects = [RejectRecord.model_validate(r) for r in _lines(out / "rejects.jsonl")]
    assert rejects and all(len(r.fingerprint or "") == 64 for r in rejects)  # features rejects: no audio here


def test_changed_prompts_redo_only_the_mode_whose_templates_changed(
    tmp_path: Path, cache: Path, server: LoopbackServer
) -> None:
    prompts = tmp_path / "prompts"
    shutil.copytree(PROMPTS_DIR, prompts)
    out = tmp_path / "run"
    first = _model_build(server.base_url, out, cache, prompts=prompts)
    assert (first.traces, len(server.chat_requests)) == (6, 6)
    (prompts / "predict.j2").write_text((prompts / "predict.j2").read_text() + "\nThink before you answer.\n")
    server.clear()
    changed = _model_build(server.base_url, out, cache, prompts=prompts)
    assert (changed.stale, changed.skipped, len(server.chat_requests)) == (3, 3, 3)
    assert {r.body["temperature"] for r in server.chat_requests} == {1.0}  # predict samples only
    assert Counter(t.mode for t in _traces(out).values()) == {"rationalize": 3, "predict": 3}


def test_another_teacher_or_server_redoes_everything_and_never_answers_from_the_other_servers_cache(
    tmp_path: Path, cache: Path, server: LoopbackServer
) -> None:
    out = tmp_path / "run"
    _model_build(server.base_url, out, cache)
    with LoopbackServer() as other:
        moved = _model_build(other.base_url, out, cache)
        # The response cache keys the server: the same questions to another server are asked again.
        assert (moved.stale, moved.new_traces, len(other.chat_requests)) == (6, 6, 6)
    renamed = _model_build(server.base_url, out, cache, teacher="openai:other-name")
    assert (renamed.stale, renamed.new_traces) == (6, 6)
    assert {t.teacher for t in _traces(out).values()} == {"openai:other-name"}
    unchanged = _model_build(server.base_url, out, cache, teacher="openai:other-name")
    assert (unchanged.stale, unchanged.skipped) == (0, 6)


def test_a_dead_server_is_not_answered_from_another_servers_cache(tmp_path: Path, cache: Path) -> None:
    with LoopbackServer() as srv:
        _model_build(srv.base_url, tmp_path / "a", cache)
    # Before, a build pointed at a dead port "succeeded" from the answers another server had given.
    with pytest.raises(CotgenError, match="cannot be reached"):
        _model_build("http://127.0.0.1:9/v1", tmp_path / "b", cache, max_retries=0)
    assert _traces(tmp_path / "b") == {}


def test_server_identity_is_the_normalised_url_without_credentials() -> None:
    assert server_identity("HTTP://LocalHost:80/v1/") == server_identity("http://localhost/v1")
    assert server_identity("http://u:secret@host:8000/v1?x=1") == "http://host:8000/v1"
    assert server_identity("http://host:8000/v1") != server_identity("http://host:8001/v1")
    assert server_identity(None) == "https://api.openai.com/v1"
    assert server_identity("https://[::1]:8443/v1") == "https://[::1]:8443/v1"


def _inputs(**change: object) -> PromptInputs:
    base: dict[str, object] = {
        "transcript": "We finally got the tickets!",
        "gender": "F",
        "cues_text": "pitch: high",
        "classes": ("neu", "hap"),
        "features": (FeatureLine("pitch (f0_median_hz)", 220.0, 1.2),),
        "human_distribution": {"neu": 0.2, "hap": 0.8},
        "context": None,
    }
    return PromptInputs(**{**base, **change})  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "change",
    [
        {"transcript": "We finally got the tickets."},
        {"gender": "M"},
        {"cues_text": "pitch: very high"},
        {"features": (FeatureLine("pitch (f0_median_hz)", float("nan"), None),)},
        {"human_distribution": {"neu": 0.4, "hap": 0.6}},
        {"context": [ContextTurn(speaker="M", transcript="Did you get them?")]},
    ],
    ids=lambda change: next(iter(change)),
)
def test_every_prompt_input_is_in_the_fingerprint(change: dict) -> None:
    utt = Utterance(
        id="u",
        corpus="c",
        audio="/a.wav",
        transcript="t",
        vote_counts={"neu": 1, "hap": 4},
        distribution={"neu": 0.2, "hap": 0.8},
        majority="hap",
        n_annotators=5,
    )
    context = FingerprintContext("openai:m", "http://h/v1", {"rationalize": "a", "predict": "b"}, {"rationalize": {}})
    item = Item(utt, 0, "rationalize")
    same = context.of(item, _inputs(), {"pitch": "high"})
    assert same == context.of(item, _inputs(), {"pitch": "high"})
    assert context.of(item, _inputs(**change), {"pitch": "high"}) != same
    assert context.of(item, _inputs(), {"pitch": "low"}) != same


def test_an_item_carries_the_prompt_inputs_its_fingerprint_hashed(tmp_path: Path, cache: Path) -> None:
    """The plan computes each item's prompt inputs for its fingerprint and hands them on, so the prompt and the
    checks read them instead of computing them again: they must be what computing them again gives."""
    config = BuildConfig(out=tmp_path / "run", cache=cache, samples=1, progress=False)
    prepared = prepare(config, config.run_dir())
    context = config.fingerprint_context(load_prompts(None))
    plan = WorkPlan.of(config, prepared, RunState(config.run_dir(), prepared.corpus.classes), context)
    items = list(plan.work(prepared))
    assert len(items) == 2 * DEMO
    for item, profile in items:
        assert profile is not None and item.inputs == prompt_inputs(item.utterance, profile)
        assert item.fingerprint == context.of(item, item.inputs, profile.levels)


def _plain_before(value: object) -> object:
    """The prompt inputs' walk into dicts and lists that came before the encoder read dataclasses itself."""
    if value is None or isinstance(value, (str, int, float)):
        return value
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain_before(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if isinstance(value, Mapping):
        return {str(k): _plain_before(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain_before(v) for v in value]
    return value


_numbers = st.none() | st.floats() | st.integers(-3, 3)
_prompt_inputs = st.builds(
    PromptInputs,
    transcript=st.none() | st.text(max_size=8),
    gender=st.sampled_from([None, "F", "M"]),
    cues_text=st.text(max_size=8),
    classes=st.lists(st.sampled_from(["neu", "hap", "ang"]), max_size=3).map(tuple),
    features=st.lists(st.builds(FeatureLine, st.text(max_size=6), _numbers, _numbers), max_size=4).map(tuple),
    human_distribution=st.none() | st.dictionaries(st.sampled_from(["neu", "hap"]), _numbers),
    context=st.none() | st.lists(st.builds(ContextTurn, speaker=st.just("M"), transcript=st.text(max_size=6))),
    levels=st.dictionaries(st.sampled_from(["pitch", "pauses"]), st.sampled_from(["low", "high"])),
)


_levels = st.none() | st.dictionaries(st.sampled_from(["pitch", "rate"]), st.sampled_from(["low", "high"]))


@given(_prompt_inputs, _levels)
def test_the_fingerprint_reads_prompt_inputs_as_before(inputs: PromptInputs, levels: dict | None) -> None:
    """The encoder reads the dataclasses, their mappings and their models itself: the same text as the walk did."""
    parts = {"id": "a", "inputs": inputs, "levels": levels}
    assert fingerprint_json(parts) == fingerprint_json({**parts, "inputs": _plain_before(inputs)})
    assert fingerprint_json(inputs) == fingerprint_json(_plain_before(inputs))


_params = st.dictionaries(st.text(max_size=6), _numbers | st.booleans() | st.text(max_size=4) | st.lists(_numbers))


@given(
    st.text(max_size=8),
    st.none() | st.text(max_size=8),
    st.fixed_dictionaries({"rationalize": st.text(max_size=4), "predict": st.text(max_size=4)}),
    st.fixed_dictionaries({"rationalize": _params, "predict": _params}),
    st.lists(st.tuples(st.integers(0, 12), st.text(max_size=6)), min_size=1, max_size=4),
)
def test_an_items_fingerprint_hashes_its_fields_as_one_object(
    teacher: str, server: str | None, templates: dict, params: dict, items: list[tuple[int, str]]
) -> None:
    """of_sample encodes the build's fields once per mode; the text it hashes is the object's canonical JSON."""
    context = FingerprintContext(teacher, server, templates, params)
    utt = Utterance(
        id="u",
        corpus="c",
        audio="/a.wav",
        vote_counts={"neu": 1},
        distribution={"neu": 1.0},
        majority="neu",
        n_annotators=1,
    )
    for sample, utterance in items:  # several items of one build, both modes
        item = Item(utt, sample, "rationalize" if sample == 0 else "predict")
        fields = {"utterance": utterance, "sample": sample, "mode": item.mode, "teacher": teacher, "server": server}
        fields |= {"template": templates[item.mode], "params": dict(params[item.mode])}
        assert context.of_sample(item, utterance) == fingerprint(fields)


_json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=6),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3),
    max_leaves=8,
)


@given(_json_values)
def test_the_shared_encoders_encode_as_json_dumps_does(value: object) -> None:
    """canonical_json and fingerprint_json keep one encoder each instead of json.dumps building one per call."""
    options = {"sort_keys": True, "separators": (",", ":"), "ensure_ascii": False}
    assert fingerprint_json(value) == json.dumps(value, allow_nan=True, **options)
    try:
        expected = json.dumps(value, allow_nan=False, **options)
    except ValueError:
        with pytest.raises(ValueError):
            canonical_json(value)
    else:
        assert canonical_json(value) == expected
