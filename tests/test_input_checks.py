"""Input checks up front and the CLI's conventions, through the console script's ``main`` (issue 13 items 2, 4).

A misspelt class, column or option is caught before any work, as one line that names the fix: a class the corpus
never uses, a label column the header lacks, a speaker split over utterances without speakers. A misspelt
optional column is a warning with the column it probably means. Usage errors look like every other error, and
the common spellings of options (``-v`` after the command, ``--format ms-swift``, ``--out DIR/``) just work.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
from test_bad_inputs import build_args, demo_rows, jsonl, write_manifest

from cotgen import __version__
from cotgen.core.errors import CotgenError
from cotgen.corpora import manifest as manifest_recipe
from cotgen.corpora.classes import parse_class_set


def _rename(rows: list[dict[str, str]], old: str, new: str) -> list[dict[str, str]]:
    return [{(new if key == old else key): value for key, value in row.items()} for row in rows]


# ------------------------------------------------------------------------------------------ class sets


@pytest.mark.parametrize("command", [["corpus"], ["build", "--no-progress"]])
def test_a_class_the_corpus_never_uses_is_one_error_listing_the_codes_it_uses(
    cotgen, tmp_path: Path, command: list[str]
) -> None:
    line = cotgen(*command, "--classes", "neu,hap,ang,sadd", "--out", str(tmp_path / "run")).one_error_line()
    assert "--classes neu,hap,ang,sadd" in line and "never uses sadd" in line
    assert line.endswith("the codes it uses are neu, hap, ang, sad")
    assert not (tmp_path / "run" / "traces.jsonl").exists()


def test_a_folded_class_counts_as_used_when_any_of_its_codes_is(cotgen, tmp_path: Path) -> None:
    """``4`` folds exc into hap: a corpus without exc still uses hap (no error), as the benchmark sets need."""
    shown = cotgen("corpus", "--classes", "4", "--out", str(tmp_path))
    assert shown.code == 0, shown.err
    assert len(jsonl(tmp_path / "utterances.jsonl")) == 24


def test_a_default_class_set_a_partial_corpus_does_not_fill_is_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The corpus's own default (IEMOCAP's 4) over a part of it (one session, a fixture) loads, and says so."""
    rows = [row for row in demo_rows() if "sad" not in row["votes"] and "hap" not in row["votes"]]
    manifest = write_manifest(tmp_path / "m.csv", rows)
    with caplog.at_level(logging.WARNING, logger="cotgen"):
        load = manifest_recipe.load(manifest, parse_class_set("neu,hap,ang,sad"))
    assert len(load.utterances) == len(rows) > 0 and load.classes == ["neu", "hap", "ang", "sad"]
    assert "manifest: no entry votes for hap, sad of the default class set neu,hap,ang,sad" in caplog.text
    with pytest.raises(CotgenError, match="--classes neu,hap,ang,sad: manifest never uses hap, sad"):
        manifest_recipe.load(manifest, parse_class_set("neu,hap,ang,sad", given=True))


# ------------------------------------------------------------------------------------------ manifest columns


def test_a_misspelt_optional_column_warns_with_the_column_it_means(cotgen, tmp_path: Path) -> None:
    rows = _rename(demo_rows()[:4], "speaker", "speakr")
    for row in rows:
        row["notes"] = "recorded at home"
    manifest = write_manifest(tmp_path / "m.csv", rows)
    shown = cotgen("corpus", "--corpus", "manifest", "--root", str(manifest), "--out", str(tmp_path))
    assert shown.code == 0, shown.err
    warnings = [line for line in shown.err.splitlines() if line.startswith("warning: ")]
    assert warnings == [
        f"warning: {manifest}:1: column speakr is not one cotgen reads (it goes to meta); did you mean speaker?"
    ]
    utterances = jsonl(tmp_path / "utterances.jsonl")
    assert [u["speaker"] for u in utterances] == [None] * 4  # kept as it was read: the warning says why
    assert utterances[0]["meta"] == {"speakr": "spk1", "notes": "recorded at home"}
    assert "column(s) notes kept in each utterance's meta" in (tmp_path / "cotgen.log").read_text(encoding="utf-8")


def test_a_synonym_column_is_named_too(cotgen, tmp_path: Path) -> None:
    manifest = write_manifest(tmp_path / "m.csv", _rename(demo_rows()[:2], "speaker", "speaker_id"))
    shown = cotgen("corpus", "--corpus", "manifest", "--root", str(manifest), "--out", str(tmp_path))
    assert "column speaker_id is not one cotgen reads (it goes to meta); did you mean speaker?" in shown.err


@pytest.mark.parametrize("suffix", [".csv", ".jsonl"])
def test_a_misspelt_label_column_is_one_header_error_not_a_drop_per_row(cotgen, tmp_path: Path, suffix: str) -> None:
    rows = _rename(demo_rows(), "votes", "vote")
    if suffix == ".csv":
        manifest = write_manifest(tmp_path / "m.csv", rows)
    else:
        manifest = tmp_path / "m.jsonl"
        manifest.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    line = cotgen("corpus", "--corpus", "manifest", "--root", str(manifest)).one_error_line()
    assert line.startswith(f"error: {manifest}:1: no label column (did you mean votes for vote?); expected votes")
    assert "malformed" not in line


def test_a_misspelt_required_column_names_the_column_it_means(cotgen, tmp_path: Path) -> None:
    manifest = write_manifest(tmp_path / "m.csv", _rename(demo_rows()[:2], "transcript", "transcrpt"))
    line = cotgen("corpus", "--corpus", "manifest", "--root", str(manifest)).one_error_line()
    assert f"{manifest}:1: missing column(s) transcript (did you mean transcript for transcrpt?)" in line


# ------------------------------------------------------------------------------------------ speaker splits


def test_a_speaker_split_over_utterances_without_speakers_refuses_naming_the_fix(
    cotgen, tmp_path: Path, feature_cache: Path
) -> None:
    manifest = write_manifest(tmp_path / "m.csv", _rename(demo_rows()[:8], "speaker", "speakr"))
    run = tmp_path / "run"
    assert cotgen(*build_args(manifest, run, feature_cache)).code == 0
    line = cotgen("export", "--format", "trl", "--in", str(run), "--split", "speaker:0.25,0.25").one_error_line()
    assert "no utterance has a speaker" in line and "add it and rerun cotgen build" in line
    assert not (run / "export").exists()


# ------------------------------------------------------------------------------------------ CLI conventions


def test_version(cotgen) -> None:
    shown = cotgen("--version")
    assert shown.code == 0 and shown.out.strip() == f"cotgen {__version__}"


def test_verbose_is_accepted_after_the_command(cotgen, tmp_path: Path) -> None:
    shown = cotgen("corpus", "--out", str(tmp_path), "-v")
    assert shown.code == 0, shown.err
    assert "corpus demo: wrote 24 utterances" in shown.err  # the INFO record, shown on stderr with -v
    quiet = cotgen("corpus", "--out", str(tmp_path))
    assert "wrote 24 utterances" not in quiet.err


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["build", "--frob"], "error: No such option: --frob"),
        (["build", "--samples", "-1"], "error: Invalid value for '--samples'"),
        (["prompt", "--id", "x", "--mode", "zz"], "error: Invalid value for --mode: 'zz'"),
        (["export"], "error: Missing option '--format'"),
    ],
)
def test_usage_errors_are_one_error_line_naming_the_help(cotgen, args: list[str], expected: str) -> None:
    line = cotgen(*args).one_error_line()
    assert line.startswith(expected)
    assert line.endswith(f"(see cotgen {args[0]} --help)")


@pytest.mark.parametrize("spelling", ["LLaMA-Factory", "llama-factory", "ms-swift", "MS-SWIFT", "Swift", "TRL"])
def test_format_takes_the_trainers_spellings_in_any_case(
    cotgen, tmp_path: Path, feature_cache: Path, spelling: str
) -> None:
    run = tmp_path / "run"
    assert cotgen(*build_args(write_manifest(tmp_path / "m.csv", demo_rows()), run, feature_cache)).code == 0
    shown = cotgen("export", "--format", spelling, "--in", str(run))
    assert shown.code == 0, shown.err
    canonical = {"llama-factory": "llamafactory", "ms-swift": "swift"}.get(spelling.lower(), spelling.lower())
    assert (run / "export" / canonical / "sft_train.jsonl").is_file()
    assert json.loads((run / "export" / canonical / "export.json").read_text(encoding="utf-8"))["format"] == canonical


def test_out_is_a_run_folder_and_output_a_file(cotgen, tmp_path: Path, feature_cache: Path) -> None:
    """``--out`` is the folder a command writes into, for corpus as for build; one-file commands take ``--output``."""
    run = tmp_path / "run"
    assert cotgen("corpus", "--out", str(run)).code == 0
    assert (run / "utterances.jsonl").is_file()
    # What the new user met: `corpus --out runs/x` wrote a file x, and `build --out runs/x` then failed.
    built = cotgen("build", "--out", str(run), "--cache", str(feature_cache), "--no-progress")
    assert built.code == 0, built.err
    assert (run / "traces.jsonl").is_file()
    assert cotgen("pairs", "--in", str(run), "--output", str(tmp_path / "p.jsonl")).code == 0
    assert (tmp_path / "p.jsonl").is_file()
    assert cotgen("grpo", "--in", str(run), "--output", str(tmp_path / "g.jsonl")).code == 0
    assert (tmp_path / "g.jsonl").is_file()
    # A path of the wrong kind: one line saying which kind was expected, nothing written.
    line = cotgen("corpus", "--out", str(tmp_path / "g.jsonl")).one_error_line()
    assert "--out" in line and "is a file; expected a folder" in line
    line = cotgen("grpo", "--in", str(run), "--output", str(run)).one_error_line()
    assert "--output" in line and "is a folder; expected a file" in line
    line = cotgen("stats", "--in", str(tmp_path / "g.jsonl")).one_error_line()
    assert "--in" in line and "is a file; expected a folder" in line
    line = cotgen("build", "--out", str(tmp_path / "b"), "--cache", str(tmp_path / "g.jsonl")).one_error_line()
    assert "--cache" in line and "is a file; expected a folder" in line
    line = cotgen("eval", "--pred", str(tmp_path / "g.jsonl"), "--in", str(run), "--ids", str(run)).one_error_line()
    assert "--ids" in line and "is a folder; expected a file" in line
    # The old spelling of a one-file output is refused, and click points at the new one.
    assert "--output" in cotgen("pairs", "--in", str(run), "--out", str(tmp_path / "q.jsonl")).one_error_line()


def test_a_build_says_how_many_corpus_entries_it_dropped_and_why(cotgen, tmp_path: Path, feature_cache: Path) -> None:
    rows = demo_rows()[:4]
    rows[2]["audio"] = str(tmp_path / "gone.wav")
    shown = cotgen(*build_args(write_manifest(tmp_path / "m.csv", rows), tmp_path / "run", feature_cache))
    assert shown.code == 0, shown.err
    assert (
        "warning: corpus manifest: 1 of 4 entries dropped (missing audio 1); cotgen corpus lists each with its file "
        "and line" in shown.err
    )
    assert "3 traces" in shown.out
