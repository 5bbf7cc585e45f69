"""Custom manifests (CSV and JSONL, each vote style) and the bundled demo corpus built on them."""

from __future__ import annotations

import json
import wave
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from cotgen.core.divergence import as_vector, entropy_bits
from cotgen.core.errors import CotgenError
from cotgen.core.paths import CORPORA_DIR
from cotgen.corpora import load_corpus
from cotgen.corpora.entries import DUPLICATE_ID, MALFORMED_ROW, MISSING_AUDIO, OUTSIDE_CLASS_SET
from cotgen.corpora.manifest import row_entry


def touch_wavs(folder: Path, *names: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        (folder / name).write_bytes(b"RIFF")


def test_csv_with_votes_relative_audio_and_extra_columns(tmp_path: Path) -> None:
    touch_wavs(tmp_path / "clips", "a.wav", "b.wav")
    (tmp_path / "m.csv").write_text(
        "id,audio,transcript,speaker,gender,session,votes,source\n"
        'a,clips/a.wav,"Well, fine.",s1,female,1,neu;hap;neu;;NEU,podcast\n'
        "b,clips/b.wav,,s2,M,,ang;ang;sad,\n"
    )
    load = load_corpus("manifest", tmp_path / "m.csv")
    a, b = load.utterances
    assert load.classes == ["neu", "hap", "ang", "sad"]
    assert a.audio == str(tmp_path / "clips" / "a.wav")
    assert a.distribution == {"neu": 0.75, "hap": 0.25, "ang": 0.0, "sad": 0.0}
    assert a.votes == [["neu"], ["hap"], ["neu"], ["neu"]] and a.n_annotators == 4
    assert (a.speaker, a.gender, a.session, a.transcript) == ("s1", "F", "1", "Well, fine.")
    assert a.meta == {"source": "podcast"} and a.corpus == "manifest"
    assert (b.transcript, b.session, b.gender, b.meta) == (None, None, "M", {})
    assert b.distribution == pytest.approx({"neu": 0, "hap": 0, "ang": 2 / 3, "sad": 1 / 3})


def test_csv_with_count_columns_and_with_distribution_json(tmp_path: Path) -> None:
    touch_wavs(tmp_path, "a.wav", "b.wav")
    (tmp_path / "counts.csv").write_text(
        "id,audio,transcript,count_neu,count_hap,count_sad\na,a.wav,x,3,1,0\nb,b.wav,y,0.5,0.5,2\n"
    )
    counts = load_corpus("manifest", tmp_path / "counts.csv")
    assert counts.utterances[0].distribution == {"neu": 0.75, "hap": 0.25, "sad": 0.0}
    assert counts.utterances[0].vote_counts == {"neu": 3.0, "hap": 1.0}
    assert counts.utterances[0].n_annotators == 4 and counts.utterances[0].votes is None
    assert counts.utterances[1].distribution == pytest.approx({"neu": 1 / 6, "hap": 1 / 6, "sad": 2 / 3})
    (tmp_path / "dist.csv").write_text(
        "id,audio,transcript,distribution,n_annotators\n"
        'a,a.wav,x,"{""neu"": 0.6, ""sad"": 0.4}",5\n'
        'b,b.wav,y,"{""neu"": 0.333, ""hap"": 0.333, ""sad"": 0.333}",\n'
    )
    dist = load_corpus("manifest", tmp_path / "dist.csv")
    assert dist.utterances[0].distribution == pytest.approx({"neu": 0.6, "sad": 0.4, "hap": 0.0})
    assert dist.utterances[0].n_annotators == 5 and dist.utterances[1].n_annotators == 0
    assert sum(dist.utterances[1].distribution.values()) == pytest.approx(1.0)


def test_jsonl_with_every_vote_style(tmp_path: Path) -> None:
    touch_wavs(tmp_path, "a.wav", "b.wav", "c.wav", "d.wav")
    rows = [
        {"id": "a", "audio": "a.wav", "transcript": "one", "votes": "hap;hap;sad"},
        {"id": "b", "audio": str(tmp_path / "b.wav"), "transcript": "two", "votes": ["neu", "sad"]},
        {"id": "c", "audio": "c.wav", "transcript": None, "votes": [["fru", "sad"], ["sad"]], "meta": {"take": 2}},
        {"id": "d", "audio": "d.wav", "transcript": "four", "distribution": {"hap": 0.5, "fru": 0.5}, "gender": "f"},
    ]
    (tmp_path / "m.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n\n")
    load = load_corpus("manifest", tmp_path / "m.jsonl")
    utts = {u.id: u for u in load.utterances}
    assert load.classes == ["neu", "hap", "sad", "fru"]
    assert utts["a"].distribution == pytest.approx({"neu": 0, "hap": 2 / 3, "sad": 1 / 3, "fru": 0})
    assert utts["b"].majority is None and utts["b"].audio == str(tmp_path / "b.wav")
    assert utts["c"].distribution == {"neu": 0.0, "hap": 0.0, "sad": 0.75, "fru": 0.25}
    assert utts["c"].votes == [["fru", "sad"], ["sad"]] and utts["c"].meta == {"take": 2}
    assert utts["d"].gender == "F" and utts["d"].votes is None


@given(st.lists(st.sampled_from(["neu", "hap", "ang", "sad", "Fru "]), min_size=1, max_size=9), st.randoms())
def test_vote_string_order_does_not_matter(labels: list[str], rnd) -> None:
    shuffled = rnd.sample(labels, len(labels))
    first = row_entry({"id": "a", "audio": "/x.wav", "transcript": "", "votes": ";".join(labels)}, "m:2", Path("/"))
    second = row_entry({"id": "a", "audio": "/x.wav", "transcript": "", "votes": ";".join(shuffled)}, "m:2", Path("/"))
    assert first.vote_counts == second.vote_counts
    assert sum(first.vote_counts.values()) == first.n_annotators == len(labels)


def test_drop_utterance_drops_rows_with_codes_outside_the_class_set(tmp_path: Path) -> None:
    touch_wavs(tmp_path, "a.wav", "b.wav", "c.wav")
    rows = "a,a.wav,,neu;hap\nb,b.wav,,neu;fru\nc,c.wav,,exc;neu\nd,a.wav,,ang;sad\n"
    (tmp_path / "m.csv").write_text("id,audio,transcript,votes\n" + rows)
    load = load_corpus("manifest", tmp_path / "m.csv", classes="neu,hap,ang,sad", out_of_set="drop-utterance")
    assert [u.id for u in load.utterances] == ["a", "d"]
    assert {d.where: d.reason for d in load.dropped} == {
        f"{tmp_path / 'm.csv'}:3": OUTSIDE_CLASS_SET,
        f"{tmp_path / 'm.csv'}:4": OUTSIDE_CLASS_SET,
    }
    assert "fru" in load.dropped[0].detail
    four = load_corpus("manifest", tmp_path / "m.csv", classes="4", out_of_set="drop-utterance")  # exc into hap
    assert [u.id for u in four.utterances] == ["a", "c", "d"]
    assert four.utterances[1].distribution == {"neu": 0.5, "hap": 0.5, "ang": 0.0, "sad": 0.0}


def test_malformed_rows_are_dropped_with_file_and_line(tmp_path: Path) -> None:
    touch_wavs(tmp_path, "a.wav")
    csv_path = tmp_path / "m.csv"
    csv_path.write_text(
        "id,audio,transcript,gender,votes,distribution\n"
        "a,a.wav,ok,F,neu;hap,\n"
        "b,a.wav,bad gender,X,neu,\n"
        'c,a.wav,two styles,,neu,"{""neu"": 1}"\n'
        "d,a.wav,no labels,,,\n"
        "e,a.wav,bad code,,n!u,\n"
        "f,a.wav,too,many,fields,here,!\n"
        ",a.wav,no id,,neu,\n"
        "g,a.wav,bad json,,,{neu: 1}\n"
        'h,a.wav,not summing,,,"{""neu"": 0.5}"\n'
        "a,a.wav,again,,neu,\n"
        "i,missing.wav,gone,,neu,\n"
    )
    load = load_corpus("manifest", csv_path)
    assert [u.id for u in load.utterances] == ["a"]
    drops = {int(d.where.rsplit(":", 1)[1]): (d.reason, d.detail) for d in load.dropped}
    assert {line: reason for line, (reason, _) in drops.items()} == {
        **{line: MALFORMED_ROW for line in range(3, 11)},
        11: DUPLICATE_ID,
        12: MISSING_AUDIO,
    }
    assert "gender 'X'" in drops[3][1]
    assert "exactly one of" in drops[4][1] and "exactly one of" in drops[5][1]
    assert "not a class code" in drops[6][1]
    assert "number of fields" in drops[7][1]
    assert "not valid JSON" in drops[9][1] and "sums to 0.5000" in drops[10][1]

    jsonl = tmp_path / "m.jsonl"
    jsonl.write_text(
        '{"id": "a", "audio": "a.wav", "transcript": "", "votes": "neu"}\n{"id": "b",\n[1, 2]\n{"id": "c"}\n'
    )
    load = load_corpus("manifest", jsonl)
    assert [u.id for u in load.utterances] == ["a"]
    assert [(d.reason, d.where) for d in load.dropped] == [(MALFORMED_ROW, f"{jsonl}:{n}") for n in (2, 3, 4)]
    assert "missing key(s) audio, transcript" in load.dropped[2].detail


def test_missing_columns_or_file_are_one_clear_error(tmp_path: Path) -> None:
    (tmp_path / "m.csv").write_text("id,path,votes\na,a.wav,neu\n")
    with pytest.raises(CotgenError, match=r"m\.csv:1: missing column\(s\) audio, transcript"):
        load_corpus("manifest", tmp_path / "m.csv")
    with pytest.raises(CotgenError, match=r"manifest layout .*missing .*nothing\.csv$"):
        load_corpus("manifest", tmp_path / "nothing.csv")
    (tmp_path / "folder").mkdir()
    with pytest.raises(CotgenError, match=r"missing .*folder/manifest\.csv$"):
        load_corpus("manifest", tmp_path / "folder")
    (tmp_path / "m.tsv").write_text("id\n")
    with pytest.raises(CotgenError, match=r"must end in \.csv or \.jsonl"):
        load_corpus("manifest", tmp_path / "m.tsv")


def test_self_eval_is_refused_outside_iemocap(tmp_path: Path) -> None:
    with pytest.raises(CotgenError, match="--self-eval applies to iemocap only"):
        load_corpus("demo", self_eval=True)


# The bundled demo corpus ---------------------------------------------------------------


@pytest.fixture(scope="module")
def demo():
    return load_corpus("demo")


def read_wav(path: str) -> tuple[wave._wave_params, np.ndarray]:
    with wave.open(path, "rb") as handle:
        params = handle.getparams()
        samples = np.frombuffer(handle.readframes(params.nframes), dtype="<i2").astype(np.float64) / 32768.0
    return params, samples


def test_demo_has_24_clips_from_4_speakers_with_5_or_6_annotators(demo) -> None:
    assert len(demo.utterances) == 24 and demo.dropped == [] and demo.missing_audio == []
    assert demo.classes == ["neu", "hap", "ang", "sad"]
    speakers = {u.speaker for u in demo.utterances}
    assert len(speakers) == 4
    assert all(sum(u.speaker == s for u in demo.utterances) == 6 for s in speakers)
    assert {u.gender for u in demo.utterances} == {"F", "M"}
    assert all(u.corpus == "demo" and u.transcript for u in demo.utterances)
    assert all(5 <= u.n_annotators <= 6 for u in demo.utterances)


def test_demo_votes_are_unanimous_for_some_clips_and_mixed_for_others(demo) -> None:
    entropies = [float(entropy_bits(as_vector(u.distribution, demo.classes))) for u in demo.utterances]
    assert sum(e == 0.0 for e in entropies) >= 6
    assert sum(e > 1.0 for e in entropies) >= 6
    assert {u.majority for u in demo.utterances} >= {"neu", "hap", "ang", "sad"}


def test_demo_clips_are_short_16k_mono_16bit_and_the_folder_small(demo) -> None:
    for utt in demo.utterances:
        params, samples = read_wav(utt.audio)
        assert (params.nchannels, params.sampwidth, params.framerate) == (1, 2, 16000)
        assert 1.5 <= params.nframes / params.framerate <= 3.0
        assert np.abs(samples).max() > 0.1
    size = sum(path.stat().st_size for path in (CORPORA_DIR / "demo").rglob("*") if path.is_file())
    assert size < 2 * 1024 * 1024


def test_demo_prosody_differs_with_the_voted_emotion(demo) -> None:
    """Clips most raters call angry (>= 60 %) are louder than those most call sad, for every speaker."""

    def rms_db(path: str) -> float:
        _, samples = read_wav(path)
        return float(20 * np.log10(np.sqrt(np.mean(samples**2))))

    for speaker in {u.speaker for u in demo.utterances}:
        mine = [u for u in demo.utterances if u.speaker == speaker]
        angry = [rms_db(u.audio) for u in mine if u.distribution["ang"] >= 0.6]
        sad = [rms_db(u.audio) for u in mine if u.distribution["sad"] >= 0.6]
        assert angry and sad
        assert min(angry) > max(sad) + 6.0


@pytest.mark.parametrize("written", ["Unknown", "unknown", " UNKNOWN ", "", "N/A", "NA", "-"])
def test_an_unknown_speaker_is_null_not_one_shared_speaker(written: str) -> None:
    from cotgen.corpora.entries import known_speaker

    assert known_speaker(written) is None
    assert known_speaker(" spk1 ") == "spk1"


def test_one_rule_for_votes_outside_the_class_set(tmp_path: Path) -> None:
    """The issue's votes neu / fru / fru+ang under a 4-class set, by each rule, and what the summary reports."""
    touch_wavs(tmp_path, "a.wav")
    (tmp_path / "m.jsonl").write_text(
        '{"id": "x", "audio": "a.wav", "transcript": "", "votes": [["neu"], ["fru"], ["fru", "ang"], ["fru"]]}\n'
        '{"id": "y", "audio": "a.wav", "transcript": "", "votes": [["neu"], ["sad"]]}\n'
    )
    path = tmp_path / "m.jsonl"
    dropped = load_corpus("manifest", path, classes="neu,ang,sad")  # the default: drop-votes
    x = dropped.utterances[0]
    assert x.distribution == {"neu": pytest.approx(2 / 3), "ang": pytest.approx(1 / 3), "sad": 0.0}
    facts = dropped.summary().facts()["out_of_set"]
    assert facts == {
        "rule": "drop-votes",
        "vote_mass_outside_share": pytest.approx(2.5 / 6, abs=1e-4),
        "utterances_over_half_outside": 1,
        "utterances_counted": 2,
    }
    assert "41.7% of the vote mass; 1 utterances lost more than half" in str(dropped.summary())
    other = load_corpus("manifest", path, classes="neu,ang,sad", out_of_set="other")
    assert other.classes == ["neu", "ang", "sad", "oth"]
    assert other.utterances[0].distribution == {"neu": 0.25, "ang": 0.125, "sad": 0.0, "oth": 0.625}
    assert other.utterances[1].distribution["oth"] == 0.0
    whole = load_corpus("manifest", path, classes="neu,ang,sad", out_of_set="drop-utterance")
    assert [u.id for u in whole.utterances] == ["y"] and whole.summary().facts()["out_of_set"][
        "rule"
    ] == "drop-utterance"
    with pytest.raises(CotgenError, match="--out-of-set 'keep': expected one of drop-votes, other, drop-utterance"):
        load_corpus("manifest", path, classes="neu,ang,sad", out_of_set="keep")


def test_the_card_states_the_rule_and_what_it_cost() -> None:
    from cotgen.report.card import out_of_set_sentences

    facts = {"rule": "drop-votes", "vote_mass_outside_share": 0.4167, "utterances_over_half_outside": 1}
    (sentence,) = out_of_set_sentences({"out_of_set": facts})
    assert "(`--out-of-set drop-votes`) were left out and the remaining votes renormalised: 41.7%" in sentence
    assert "1 utterances lost more than half of theirs" in sentence
    assert out_of_set_sentences({}) == []
