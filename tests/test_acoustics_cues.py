"""Speaker-relative cue levels, their reference fallbacks, and the phrases the verbaliser makes of them."""

from __future__ import annotations

import csv
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf
from hypothesis import given, settings
from hypothesis import strategies as st

from cotgen.acoustics import CUE_FEATURES, FEATURE_COLUMNS, CueProfile, extract_features, speaker_cues, verbalise
from cotgen.acoustics.cues import _coded, _groups
from cotgen.core.paths import CORPORA_DIR
from cotgen.records.trace import ACOUSTIC_CUES, INTONATION_LEVELS, LEVELS
from cotgen.records.utterance import Utterance

SR = 16000


def utterance(uid: str, speaker: str | None, gender: str | None, audio: str = "/nonexistent.wav") -> Utterance:
    return Utterance(
        id=uid,
        corpus="test",
        audio=audio,
        speaker=speaker,
        gender=gender,
        vote_counts={"neu": 1.0},
        distribution={"neu": 1.0},
        majority="neu",
        n_annotators=1,
    )


def table(values: dict[str, dict[str, float]]) -> pd.DataFrame:
    """A features table whose unspecified features are a constant 1.0."""
    rows = [{"id": uid, **dict.fromkeys(FEATURE_COLUMNS, 1.0), **cols, "error": None} for uid, cols in values.items()]
    return pd.DataFrame(rows)


def test_cues_cover_the_trace_cues_with_real_feature_columns() -> None:
    assert tuple(CUE_FEATURES) == ACOUSTIC_CUES
    assert set(CUE_FEATURES.values()) <= set(FEATURE_COLUMNS)


def test_a_speaker_with_ten_utterances_is_their_own_reference() -> None:
    f0 = {f"a{i}": 100.0 + 10 * i for i in range(12)}
    others = {f"b{i}": 300.0 for i in range(12)}  # same gender, far higher: must not matter
    features = table({uid: {"f0_median_hz": v} for uid, v in {**f0, **others}.items()})
    utts = [utterance(u, "A", "F") for u in f0] + [utterance(u, "B", "F") for u in others]
    profiles = speaker_cues(features, utts)
    speaker_values = np.array(list(f0.values()))
    top, bottom, middle = profiles["a11"], profiles["a0"], profiles["a5"]
    assert top.reference["pitch"] == "speaker"
    assert top.levels["pitch"] == "very high" and bottom.levels["pitch"] == "very low"
    assert middle.levels["pitch"] == "moderate"
    assert top.z["pitch"] == pytest.approx((210.0 - speaker_values.mean()) / speaker_values.std(ddof=1))
    assert top.values["f0_median_hz"] == 210.0


def test_small_speakers_fall_back_to_gender_then_corpus() -> None:
    values = {f"f{i}": {"f0_median_hz": 200.0 + i} for i in range(8)}
    values |= {f"g{i}": {"f0_median_hz": 180.0 + i} for i in range(4)}
    values |= {"x0": {"f0_median_hz": 90.0}, "x1": {"f0_median_hz": 95.0}}
    utts = [utterance(f"f{i}", "F1", "F") for i in range(8)] + [utterance(f"g{i}", "F2", "F") for i in range(4)]
    utts += [utterance("x0", "X", None), utterance("x1", None, None)]
    profiles = speaker_cues(table(values), utts)
    assert profiles["g0"].reference["pitch"] == "gender"  # 4 own utterances, 12 female ones
    assert profiles["g0"].levels["pitch"] == "very low"  # lowest of the female voices
    assert profiles["x0"].reference["pitch"] == "corpus"  # no gender to fall back on
    assert profiles["x1"].reference["pitch"] == "corpus"


def test_unmeasured_features_have_no_level_and_rows_without_features_have_none() -> None:
    values = {f"u{i}": {"hnr_db": float(i)} for i in range(11)}
    values["u0"]["hnr_db"] = math.nan
    utts = [utterance(u, "S", "M") for u in values] + [utterance("absent", "S", "M")]
    profiles = speaker_cues(table(values), utts)
    assert profiles["u0"].levels["voice_quality"] is None and profiles["u0"].z["voice_quality"] is None
    assert profiles["u0"].values["hnr_db"] is None
    assert profiles["u1"].reference["voice_quality"] == "speaker"  # 10 measured values remain
    assert all(level is None for level in profiles["absent"].levels.values())


def test_intonation_is_read_from_the_final_slope_with_fixed_thresholds() -> None:
    slopes = {"up": 12.0, "down": -12.0, "level": 2.0}
    profiles = speaker_cues(
        table({u: {"f0_final_slope_st_s": s} for u, s in slopes.items()}), [utterance(u, "S", "F") for u in slopes]
    )
    endings = {u: p.levels["intonation"] for u, p in profiles.items()}
    assert endings == {"up": "rising", "down": "falling", "level": "flat"}
    for profile in profiles.values():
        assert all(
            level in (INTONATION_LEVELS if cue == "intonation" else LEVELS) for cue, level in profile.levels.items()
        )


def profile(**overrides: object) -> CueProfile:
    levels = {
        "pitch": "high",
        "pitch_variation": "moderate",
        "intonation": "falling",
        "loudness": "moderate",
        "loudness_variation": "low",
        "speech_rate": "high",
        "pauses": "moderate",
        "voice_quality": "low",
    }
    values = dict.fromkeys(FEATURE_COLUMNS, None) | {
        "f0_median_hz": 241.2,
        "f0_range_st": 6.34,
        "speech_rate_syl_s": 5.81,
        "pause_count": 0.0,
        "pause_fraction": 0.0,
        "hnr_db": 9.3,
    }
    z = dict.fromkeys(ACOUSTIC_CUES, 0.0) | {"pitch": 1.21}
    fields = {"levels": levels, "z": z, "values": values, "reference": dict.fromkeys(ACOUSTIC_CUES, "speaker")}
    for key, value in overrides.items():
        fields[key] = fields[key] | value  # type: ignore[operator]
    return CueProfile(**fields)  # type: ignore[arg-type]


def test_verbalise_says_levels_values_and_reference() -> None:
    assert verbalise(profile()) == (
        "pitch high for this speaker (median 241 Hz, +1.2 SD), falling at the end, range moderate (6.3 semitones); "
        "loudness moderate, even; speaking fast (5.8 syllables/s); no long pauses; "
        "voice slightly breathy (HNR 9 dB, low)"
    )


def test_verbalise_names_gender_references_pauses_and_missing_measures() -> None:
    text = verbalise(
        CueProfile(
            **{
                **profile(
                    reference={"pitch": "gender"},
                    values={"pause_count": 2.0, "pause_fraction": 0.234, "hnr_db": None},
                    levels={"pauses": "very high", "voice_quality": None, "intonation": "rising"},
                ).__dict__,
                "gender": "F",
            }
        )
    )
    assert text.startswith("pitch high for a female voice in this corpus (median 241 Hz, +1.2 SD), rising at the end")
    assert "2 long pauses (23% of the speech, very high)" in text
    assert "HNR" not in text and "; voice" not in text  # HNR not measured: no claim about the voice


def test_generated_speaker_clips_are_described_relative_to_the_speaker(tmp_path: Path) -> None:
    """Twelve clips of one synthetic speaker; the highest, ending in a rise, must read so."""
    utts = []
    for i, f0 in enumerate(np.linspace(120, 180, 12)):
        t = np.arange(int(1.2 * SR)) / SR
        contour = f0 * 2 ** (np.where(t > 0.8, (t - 0.8) * (20.0 if i == 11 else -10.0), 0.0) / 12)
        phase = 2 * np.pi * np.cumsum(contour) / SR
        signal = 0.3 * sum(np.sin(k * phase) / k for k in range(1, 9)) / 2.5
        path = tmp_path / f"c{i}.wav"
        sf.write(path, signal, SR)
        utts.append(utterance(f"c{i}", "S", "M", str(path)))
    features = extract_features([(u.id, u.audio) for u in utts], workers=1, progress=False)
    profiles = speaker_cues(features, utts)
    highest, lowest = profiles["c11"], profiles["c0"]
    assert highest.levels["pitch"] == "very high" and highest.levels["intonation"] == "rising"
    assert lowest.levels["pitch"] == "very low" and lowest.levels["intonation"] == "falling"
    assert verbalise(highest).startswith(
        f"pitch very high for this speaker (median {highest.values['f0_median_hz']:.0f} Hz, "
        f"{highest.z['pitch']:+.1f} SD), rising at the end"
    )
    assert highest.z["pitch"] > 1.4 and lowest.z["pitch"] < -1.4
    assert verbalise(lowest).startswith("pitch very low for this speaker (median 120 Hz, ")


def test_demo_clips_are_described_against_their_gender() -> None:
    """The demo's speakers have 6 clips each, so references fall back to the 12 clips of their gender."""
    demo = CORPORA_DIR / "demo"
    with (demo / "manifest.csv").open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    utts = [utterance(r["id"], r["speaker"], r["gender"], str(demo / r["audio"])) for r in rows]
    features = extract_features([(u.id, u.audio) for u in utts], workers=1, progress=False)
    assert features["error"].isna().all()
    profiles = speaker_cues(features, utts)
    by_gender = {"M": "male", "F": "female"}
    for utt in utts:
        prof = profiles[utt.id]
        assert set(prof.reference.values()) == {"gender"}
        text = verbalise(prof)
        assert text.startswith(
            f"pitch {prof.levels['pitch']} for a {by_gender[utt.gender]} voice in this corpus "
            f"(median {prof.values['f0_median_hz']:.0f} Hz"
        )
        assert f"({prof.values['speech_rate_syl_s']:.1f} syllables/s)" in text
    male_f0 = features.set_index("id").loc[[u.id for u in utts if u.gender == "M"], "f0_median_hz"]
    highest_male = profiles[male_f0.idxmax()]
    assert highest_male.levels["pitch"] == "very high" and highest_male.z["pitch"] > 1.0


def test_unknown_speakers_are_measured_against_their_gender_not_a_pooled_speaker() -> None:
    from cotgen.corpora.entries import known_speaker

    # Twenty-four clips a corpus labels "Unknown", twelve female and twelve male: read as null speakers, each is
    # compared with its own gender; as one "Unknown" speaker they would be compared with a mixed-gender pool.
    values = {f"f{i}": {"f0_median_hz": 210.0 + i} for i in range(12)} | {
        f"m{i}": {"f0_median_hz": 110.0 + i} for i in range(12)
    }
    utts = [utterance(f"f{i}", known_speaker("Unknown"), "F") for i in range(12)]
    utts += [utterance(f"m{i}", known_speaker("Unknown"), "M") for i in range(12)]
    profiles = speaker_cues(table(values), utts)
    assert {p.reference["pitch"] for p in profiles.values()} == {"gender"}
    assert profiles["f0"].levels["pitch"] == "very low" and profiles["m11"].levels["pitch"] == "very high"


@settings(max_examples=80, deadline=None)
@given(st.lists(st.one_of(st.none(), st.sampled_from(["F01", "M02", "F03", "x"])), max_size=60))
def test_reference_groups_from_codes_are_the_rows_of_each_key_in_row_order(keys: list) -> None:
    # The build groups rows by integer codes with one stable sort; each group must be exactly the positions of
    # its key, ascending (the statistics sum in row order), and rows without a key in no group.
    expected: dict[str, list[int]] = {}
    for position, key in enumerate(keys):
        if key is not None:
            expected.setdefault(key, []).append(position)
    groups = _groups(_coded(keys))
    assert list(groups) == list(expected)  # first-appearance order, as the speakers were met
    assert {key: rows.tolist() for key, rows in groups.items()} == expected
