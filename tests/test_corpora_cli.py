"""The corpus CLI (cotgen corpus / cotgen corpora), root resolution and the per-corpus notes."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from cotgen.cli.main import get_app
from cotgen.core.errors import CotgenError
from cotgen.core.paths import CORPORA_DIR
from cotgen.corpora import CORPORA, canonical_name, load_corpus, resolve_root
from cotgen.corpora import registry as registry_module
from cotgen.corpora.notes import REQUIRED_FIELDS, corpus_note, parse_note
from cotgen.corpora.registry import env_variable
from cotgen.records.utterance import read_utterances

runner = CliRunner()


@pytest.fixture()
def wide_console(monkeypatch) -> None:
    """A console wide enough that table cells (paths, reasons) are not wrapped.

    Through $COLUMNS, which rich reads on every print: setting ``console.width`` instead would be undone by
    pinning the width measured at that moment, and later tests would print into 80 columns whatever they ask.
    """
    monkeypatch.setenv("COLUMNS", "300")


def test_corpus_writes_demo_utterances_by_default_and_prints_the_summary(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(get_app(), ["corpus"])
    assert result.exit_code == 0, result.output
    written = read_utterances(tmp_path / "outputs" / "demo" / "utterances.jsonl")
    assert [u.id for u in written] == [u.id for u in load_corpus("demo").utterances]
    assert "demo: 24 utterances kept" in result.output
    assert "mean entropy" in result.output and "dropped: 0" in result.output
    for code in ("neu", "hap", "ang", "sad"):
        assert code in result.output


def test_corpus_out_folder_classes_and_drop_table(tmp_path: Path, wide_console: None) -> None:
    (tmp_path / "a.wav").write_bytes(b"RIFF")
    manifest = tmp_path / "m.csv"
    manifest.write_text("id,audio,transcript,votes\na,a.wav,x,neu;sad\nb,a.wav,y,neu;fru\nc,gone.wav,z,neu\n")
    out = tmp_path / "run"
    args = ["corpus", "--corpus", "manifest", "--root", str(manifest), "--classes", "neu,sad", "--out", str(out)]
    args += ["--out-of-set", "drop-utterance"]
    result = runner.invoke(get_app(), args)
    assert result.exit_code == 0, result.output
    assert [u.id for u in read_utterances(out / "utterances.jsonl")] == ["a"]
    assert "label outside class set" in result.output and "missing audio" in result.output
    assert f"{manifest}:3" in result.output and "votes for fru not in neu,sad" in result.output


def test_corpus_with_allow_missing_audio_reports_the_kept_ones(tmp_path: Path) -> None:
    manifest = tmp_path / "m.jsonl"
    manifest.write_text('{"id": "a", "audio": "nowhere.wav", "transcript": "x", "votes": "neu;hap"}\n')
    args = ["corpus", "--corpus", "manifest", "--root", str(manifest), "--allow-missing-audio", "--out", str(tmp_path)]
    result = runner.invoke(get_app(), args)
    assert result.exit_code == 0, result.output
    assert "kept without audio (--allow-missing-audio): 1" in result.output
    assert read_utterances(tmp_path / "utterances.jsonl")[0].audio == str(tmp_path / "nowhere.wav")


def test_corpus_errors_are_cotgen_errors(tmp_path: Path) -> None:
    result = runner.invoke(get_app(), ["corpus", "--corpus", "iemocap", "--root", str(tmp_path)])
    assert isinstance(result.exception, CotgenError)
    assert "IEMOCAP layout" in str(result.exception) and "Session1" in str(result.exception)
    result = runner.invoke(get_app(), ["corpus", "--corpus", "timit"])
    assert isinstance(result.exception, CotgenError) and "known: iemocap, crema-d" in str(result.exception)
    (tmp_path / "m.csv").write_text("id,audio,transcript,votes\na,gone.wav,x,neu\n")
    result = runner.invoke(get_app(), ["corpus", "--corpus", "manifest", "--root", str(tmp_path / "m.csv")])
    assert isinstance(result.exception, CotgenError)
    assert "no utterance kept from manifest (missing audio: 1)" in str(result.exception)


def test_corpora_lists_every_corpus_with_classes_and_layout(wide_console: None) -> None:
    result = runner.invoke(get_app(), ["corpora"])
    assert result.exit_code == 0, result.output
    for name in ("iemocap", "crema-d", "msp-podcast", "manifest", "demo"):
        assert name in result.output
    assert "EmoEvaluation" in result.output and "tabulatedVotes.csv" in result.output
    assert "COTGEN_IEMOCAP_ROOT" in result.output


def test_corpora_at_80_columns_keeps_every_variable_name_on_one_line(cotgen, monkeypatch) -> None:
    """A name the user copies (``$COTGEN_MSP_PODCAST_ROOT``) is never split over two lines."""
    monkeypatch.setenv("COLUMNS", "80")
    shown = cotgen("corpora")
    assert shown.code == 0, shown.err
    assert max(len(line) for line in shown.out.splitlines()) <= 80
    for name in CORPORA:
        if not (CORPORA_DIR / name).exists():
            assert f"${env_variable(name)}" in shown.out.split(), name


def test_root_resolution_order(tmp_path: Path, monkeypatch) -> None:
    """--root, then the bundled copy, then ./corpora/<name>/ of the folder cotgen runs in, then the variable."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(registry_module, "CORPORA_DIR", tmp_path / "bundled")
    monkeypatch.delenv("COTGEN_CREMA_D_ROOT", raising=False)
    with pytest.raises(CotgenError) as raised:
        resolve_root("crema_d")
    message = str(raised.value)
    assert "--root" in message and "corpora/crema-d/" in message
    assert "COTGEN_CREMA_D_ROOT" in message
    monkeypatch.setenv("COTGEN_CREMA_D_ROOT", str(tmp_path / "from-env"))
    assert resolve_root("crema-d") == tmp_path / "from-env"
    (tmp_path / "corpora" / "crema-d").mkdir(parents=True)
    assert resolve_root("CREMA_D").resolve() == tmp_path / "corpora" / "crema-d"
    (tmp_path / "bundled" / "crema-d").mkdir(parents=True)
    assert resolve_root("CREMA_D") == tmp_path / "bundled" / "crema-d"
    assert resolve_root("crema-d", tmp_path / "explicit") == tmp_path / "explicit"


def test_names_and_aliases() -> None:
    assert list(CORPORA) == [
        "iemocap",
        "crema-d",
        "msp-podcast",
        "msp-improv",
        "emo-superb",
        "meld",
        "ravdess",
        "esd",
        "tess",
        "manifest",
        "demo",
    ]
    assert canonical_name("msp_improv") == "msp-improv" and canonical_name("EMO_SUPERB") == "emo-superb"
    assert canonical_name("crema_d") == canonical_name("CREMA-D") == "crema-d"
    assert all(recipe.classes_help and recipe.layout_help for recipe in CORPORA.values())
    assert resolve_root("demo") == CORPORA_DIR / "demo"


@pytest.mark.parametrize(
    ("name", "license_id", "redistribution"),
    [
        ("iemocap", "other", "restricted"),
        ("crema_d", "odbl", "open"),
        ("msp-podcast", "other", "restricted"),
        ("msp-improv", "other", "restricted"),
        ("emo-superb", "other", "restricted"),
        ("meld", "gpl-3.0", "open"),
        ("ravdess", "cc-by-nc-sa-4.0", "open"),
        ("esd", "other", "restricted"),
        ("tess", "cc-by-nc-nd-4.0", "restricted"),
        ("manifest", "other", "restricted"),
        ("demo", "cc0-1.0", "open"),
    ],
)
def test_every_corpus_has_a_note_with_machine_readable_front_matter(
    name: str, license_id: str, redistribution: str
) -> None:
    note = corpus_note(name)
    assert set(REQUIRED_FIELDS) <= set(note)
    language = ["en", "zh"] if name == "esd" else "en"
    assert (note["license"], note["redistribution"], note["language"]) == (license_id, redistribution, language)
    assert "## Class map" in note["body"] and "protocol" in note["body"].lower()
    if name != "manifest":
        assert note["citation"].lstrip().startswith("@")


def test_bad_notes_say_what_is_wrong() -> None:
    with pytest.raises(CotgenError, match=r"x\.md:1: expected a YAML front matter"):
        parse_note("# no front matter\n", "x.md")
    with pytest.raises(CotgenError, match="not closed"):
        parse_note("---\nlicense: odbl\n", "x.md")
    with pytest.raises(CotgenError, match="lacks pretty_name, redistribution, citation, language"):
        parse_note("---\nlicense: odbl\n---\nbody\n", "x.md")
    with pytest.raises(CotgenError, match="redistribution must be open or restricted"):
        parse_note("---\npretty_name: x\nlicense: x\nredistribution: maybe\ncitation: ''\nlanguage: en\n---\n", "x.md")
