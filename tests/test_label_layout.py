"""The label layout: each class's label one token of the student's tokenizer, distinct, where the answer writes it."""

from __future__ import annotations

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
