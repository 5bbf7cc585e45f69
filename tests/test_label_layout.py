"""The label layout: each class's label one token of the student's tokenizer, distinct, where the answer writes it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest.importorskip("tokenizers", reason="the label layout reads tokenizers with the 'tokenizers' package")

from tiny_tokenizer import save, trained, with_words  # noqa: E402

from cotgen.core.errors import CotgenError  # noqa: E402
from cotgen.records.label_layout import (  # noqa: E402
    LabelLayoutError,
    candidate_words,
    check_tokenizer,
    choose_label_words,
    label_text,
    tokenizer_encoder,
)

CLASSES = ["neu", "hap", "ang", "sad"]


def answers(labels: list[str], n: int = 40) -> list[str]:
    """Answer endings with label lines, as the export writes them, for the BPE to learn from."""
    return [
        f'<distribution>{{"{a}": 0.6, "{b}": 0.4}}</distribution>\nLabel: {a}\n'
        for i in range(n)
        for a, b in [(labels[i % len(labels)], labels[(i + 1) % len(labels)])]
    ]


def test_codes_that_are_single_tokens_are_kept(tmp_path: Path) -> None:
    folder = save(trained(answers(CLASSES)), tmp_path / "tok")
    layout = check_tokenizer(folder, CLASSES)
    assert layout.words == {code: code for code in CLASSES}
    assert layout.replaced == {}
    assert layout.token_texts == {code: f" {code}" for code in CLASSES}
    assert len(set(layout.token_ids.values())) == 4
    encode, digest = tokenizer_encoder(folder)
    assert layout.tokenizer_sha256 == digest
    # The recorded id is the one the tokenizer gives the label in a whole answer's text.
    text, start, _ = label_text("ang")
    at_label = [t for t in encode(text) if t.start <= start < t.end]
    assert [t.id for t in at_label] == [layout.token_ids["ang"]]


def test_colliding_codes_get_their_names(tmp_path: Path) -> None:
    # Only the names (with their space) are tokens: after the space token, 'fru' and 'fea' are three byte
    # tokens each, both starting with 'f', so the first token of the code could not tell the classes apart.
    names = [" neutral", " frustrated", " fearful", " neu"]
    folder = save(with_words(names), tmp_path / "tok")
    encode, _ = tokenizer_encoder(folder)
    text, start, end = label_text("fru")
    assert len([t for t in encode(text) if t.start < end and t.end > start]) > 1
    layout = check_tokenizer(folder, ["neu", "fru", "fea"])
    assert layout.words == {"neu": "neu", "fru": "frustrated", "fea": "fearful"}
    assert set(layout.replaced) == {"fru", "fea"}
    assert layout.replaced["fru"] == "'fru' is 3 tokens ('f' + 'r' + 'u')"
    assert layout.token_texts == {"neu": " neu", "fru": " frustrated", "fea": " fearful"}
    assert len(set(layout.token_ids.values())) == 3


def test_no_working_word_is_refused_naming_class_and_words(tmp_path: Path) -> None:
    folder = save(with_words([" neu", " hap"]), tmp_path / "tok")
    with pytest.raises(LabelLayoutError) as caught:
        check_tokenizer(folder, ["neu", "hap", "fru", "fea"])
    message = str(caught.value)
    assert "no single-token label for fru, fea" in message
    for word in candidate_words("fru") + candidate_words("fea"):
        assert repr(word) in message
    assert "neu:" not in message


def test_two_classes_never_share_a_token(tmp_path: Path) -> None:
    folder = save(with_words([" x", " y"]), tmp_path / "tok")
    encode, digest = tokenizer_encoder(folder)
    layout = choose_label_words(encode, ["a", "b"], "tok", digest, {"a": ["x"], "b": ["x", "y"]})
    assert layout.words == {"a": "x", "b": "y"}
    assert "already a's" in layout.replaced["b"]
    with pytest.raises(LabelLayoutError, match="b: 'x' is token ' x', already a's"):
        choose_label_words(encode, ["a", "b"], "tok", digest, {"a": ["x"], "b": ["x"]})


def test_missing_or_broken_tokenizer_is_one_clear_line(tmp_path: Path) -> None:
    with pytest.raises(CotgenError, match="no tokenizer.json there; save the student's tokenizer"):
        check_tokenizer(tmp_path, CLASSES)
    (tmp_path / "tokenizer.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(CotgenError, match="not a tokenizers JSON file"):
        check_tokenizer(tmp_path, CLASSES)


# ---------------------------------------------------------------------------------------------
# export --tokenizer: the words reach the label lines, export.json and the card


@pytest.fixture
def demo_run(tmp_path: Path, cache: Path) -> Path:
    from cotgen.build import BuildConfig, run_build

    out = tmp_path / "run"
    run_build(BuildConfig(out=out, cache=cache, progress=False, limit=8))
    return out


def _rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def test_export_writes_the_checked_words_and_tokens(demo_run: Path, tmp_path: Path, cotgen) -> None:
    # 'ang' is not one token of this tokenizer ('a' + 'n' + 'g' after the space); 'angry' is.
    folder = save(with_words([" neu", " hap", " angry", " sad"]), tmp_path / "student-tokenizer")
    out = tmp_path / "export"
    shown = cotgen("export", "--in", str(demo_run), "--format", "trl", "--answer", "label", "--tokenizer",
                   str(folder), "--split", "speaker:0.2,0.2", "--out", str(out))  # fmt: skip
    assert shown.code == 0, shown.err
    info = json.loads((out / "export.json").read_text())
    layout = info["label_layout"]
    assert info["label_words"] == {"neu": "neu", "hap": "hap", "ang": "angry", "sad": "sad"} == layout["words"]
    assert set(layout["replaced"]) == {"ang"}
    encode, digest = tokenizer_encoder(folder)
    assert layout["tokenizer_sha256"] == digest
    assert "ang: 'angry' = token ' angry'" in shown.out
    rows = [row for path in sorted(out.glob("sft_*.jsonl")) for row in _rows(path)]
    assert len(rows) == 8
    code_of = {word: code for code, word in layout["words"].items()}
    written = set()
    for row in rows:
        text = row["completion"][0]["content"]
        line = text.rsplit("\n", 1)[1]
        assert line.startswith("Label: ") and line[len("Label: ") :] in code_of
        assert row["label_words"] == layout["words"]
        # In the exported text itself, the label is the one recorded token, and the text's last.
        code = code_of[line[len("Label: ") :]]
        assert encode(text)[-1].id == layout["token_ids"][code]
        written.add(code)
    assert len(written) >= 2  # several classes' lines were checked, not one
    card = (out / "README.md").read_text(encoding="utf-8")
    assert f"ang → `angry` (token id {layout['token_ids']['ang']})" in card


def test_export_refuses_a_tokenizer_without_working_words(demo_run: Path, tmp_path: Path, cotgen) -> None:
    folder = save(with_words([" neu", " hap"]), tmp_path / "tok")
    shown = cotgen("export", "--in", str(demo_run), "--format", "trl", "--answer", "label", "--tokenizer", str(folder),
                   "--out", str(tmp_path / "export"))  # fmt: skip
    line = shown.one_error_line()
    assert "no single-token label for ang, sad" in line and "'angry'" in line and "'sad'" in line
    assert not (tmp_path / "export" / "export.json").exists()
    shown = cotgen("export", "--in", str(demo_run), "--format", "trl", "--tokenizer", str(folder))
    assert "--tokenizer checks the label line's tokens: give it with --answer label" in shown.one_error_line()


def test_label_words_given_by_hand_are_tried_first(demo_run: Path, tmp_path: Path, cotgen) -> None:
    folder = save(with_words([" neu", " hap", " ang", " sad", " calm"]), tmp_path / "tok")
    out = tmp_path / "export"
    shown = cotgen("export", "--in", str(demo_run), "--format", "trl", "--answer", "label", "--tokenizer", str(folder),
                   "--label-words", "neu=calm", "--out", str(out))  # fmt: skip
    assert shown.code == 0, shown.err
    assert json.loads((out / "export.json").read_text())["label_words"]["neu"] == "calm"
    assert "is not CODE=WORD" in cotgen("export", "--in", str(demo_run), "--format", "trl", "--answer", "label",
                                        "--label-words", "neu").one_error_line()  # fmt: skip
