"""Whether a student's tokenizer writes each class's label as one token of its own, and which label words do.

The KL term of the training objective and the logprob readout both read the model's distribution over
the classes from the logits at ONE position: the label's, after ``Label:`` at the end of the answer.
That is a distribution over the classes only when every class's label, written exactly as the answer
writes it (with the space before it), is a single token, and no two classes share that token. A code
such as ``fru`` may well be two tokens (`` f`` + ``ru``) in one vocabulary and one in another, and a
class whose label is two tokens would have its first piece stand for it, shared perhaps with ``fea``.
So the check runs on the student's own tokenizer (a local folder; nothing is downloaded), in the text
the answer puts around the label, and picks other words for the classes whose default does not work.

The tokenizer is read with the ``tokenizers`` library from the folder's ``tokenizer.json`` (the file a
fast tokenizer of transformers saves, and the file Qwen2 and Qwen2.5 checkpoints ship), so the check is
the same tokenisation the trainer and the server use.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from cotgen.core.errors import CotgenError
from cotgen.core.labels import emotion_name
from cotgen.records.answer import LABEL_PREFIX as CONTRACT_PREFIX

TOKENIZER_FILE = "tokenizer.json"
# The answer's label line (cotgen.records.answer): the trace, a newline, then 'Label:', a space and the word.
LABEL_PREFIX = f"{CONTRACT_PREFIX} "
# The text just before the label line in every answer (the end of the distribution tag), and what may follow
# the label: the end of the text, or a newline some trainers' templates add before the end-of-turn token.
_BEFORE = "</distribution>\n"
_AFTER = ("", "\n")
_SPACING = len(LABEL_PREFIX) - len(LABEL_PREFIX.rstrip())  # the space a label token may carry before its word


@dataclass(frozen=True)
class Token:
    """One token of an encoded text: its id, its text as decoded, and the characters it covers."""

    id: int
    text: str
    start: int
    end: int


Encoder = Callable[[str], Sequence[Token]]


class LabelLayoutError(CotgenError):
    """No working label word for some class: the message names the classes and the words tried."""


class LabelLayout(BaseModel):
    """The label words a tokenizer reads as one distinct token each, and those tokens (export.json, the card).

    ``token_texts`` are the tokens as the tokenizer decodes them, the space included (`` neu``): what an
    OpenAI-compatible server names in ``top_logprobs``.
    """

    model_config = ConfigDict(extra="forbid")

    tokenizer: str = Field(description="The tokenizer folder the layout was checked with.")
    tokenizer_sha256: str = Field(description="sha256 of its tokenizer.json: the layout holds for that file only.")
    prefix: str = Field(description="What precedes the label word on the label line.")
    words: dict[str, str] = Field(description="Class code -> the label word written for it.")
    token_ids: dict[str, int] = Field(description="Class code -> the id of its label's single token.")
    token_texts: dict[str, str] = Field(description="Class code -> that token decoded, with its leading space.")
    replaced: dict[str, str] = Field(
        default_factory=dict, description="Class code -> why its default label (the code) was not used."
    )


def label_text(word: str, after: str = "") -> tuple[str, int, int]:
    """The answer's end with ``word`` as its label, and where the word lies in it."""
    head = _BEFORE + LABEL_PREFIX
    return head + word + after, len(head), len(head) + len(word)


def label_tokens(encode: Encoder, word: str, after: str = "") -> list[Token]:
    """The tokens that cover any character of ``word`` where the answer writes it."""
    text, start, end = label_text(word, after)
    return [token for token in encode(text) if token.start < end and token.end > start]


def _problem(encode: Encoder, word: str) -> tuple[str | None, Token | None]:
    """Why ``word`` is no single label token (None when it is one), and its token when it is."""
    found: Token | None = None
    for after in _AFTER:
        tokens = label_tokens(encode, word, after)
        _, start, end = label_text(word, after)
        if len(tokens) != 1:
            pieces = " + ".join(repr(t.text) for t in tokens)
            return f"{word!r} is {len(tokens)} tokens ({pieces})", None
        token = tokens[0]
        if token.start < start - _SPACING or token.end > end:
            return f"{word!r} shares its token {token.text!r} with the text around it", None
        if found is not None and found.id != token.id:
            return f"{word!r} is a different token at the end of the text than before a newline", None
        found = token
    return None, found


def candidate_words(code: str) -> list[str]:
    """The words tried for a class, in order: its code, its English name, both capitalised."""
    name = emotion_name(code)
    words = [code, name, name.capitalize(), code.capitalize()]
    return list(dict.fromkeys(word for word in words if word and not any(ch.isspace() for ch in word)))


def choose_label_words(
    encode: Encoder,
    classes: Sequence[str],
    tokenizer: str,
    tokenizer_sha256: str,
    candidates: Mapping[str, Sequence[str]] | None = None,
) -> LabelLayout:
    """For each class the first candidate word that is one token, distinct from the other classes' tokens.

    Classes are served in order, so the default (the code) is kept wherever it works. Raises
    :class:`LabelLayoutError` naming every class left without a word, why each word tried failed, and
    the tokens the other classes took.
    """
    tried = {code: list(candidates[code]) if candidates else candidate_words(code) for code in classes}
    words: dict[str, str] = {}
    tokens: dict[str, Token] = {}
    replaced: dict[str, str] = {}
    failures: dict[str, list[str]] = {}
    for code in classes:
        reasons = []
        for word in tried[code]:
            problem, token = _problem(encode, word)
            if problem is None and token is not None:
                owner = next((other for other, t in tokens.items() if t.id == token.id), None)
                if owner is not None:
                    problem = f"{word!r} is token {token.text!r}, already {owner}'s"
            if problem is None and token is not None:
                words[code], tokens[code] = word, token
                break
            reasons.append(problem or f"{word!r} is not usable")
        if code not in words:
            failures[code] = reasons
        elif reasons:
            replaced[code] = "; ".join(reasons)
    if failures:
        detail = "; ".join(f"{code}: {', '.join(reasons)}" for code, reasons in failures.items())
        raise LabelLayoutError(
            f"{tokenizer}: no single-token label for {', '.join(failures)} ({detail}); name working words with "
            "--label-words CODE=WORD,... (each must be one token of this tokenizer after 'Label:')"
        )
    return LabelLayout(
        tokenizer=tokenizer,
        tokenizer_sha256=tokenizer_sha256,
        prefix=LABEL_PREFIX,
        words=words,
        token_ids={code: token.id for code, token in tokens.items()},
        token_texts={code: token.text for code, token in tokens.items()},
        replaced=replaced,
    )


def tokenizer_encoder(folder: Path) -> tuple[Encoder, str]:
    """An encoder over the folder's ``tokenizer.json`` and that file's sha256; a one-line error when it cannot be read.

    ``tokenizers`` is imported here: it is an optional dependency (``pip install 'cotgen[train]'``).
    """
    path = folder / TOKENIZER_FILE if folder.is_dir() else folder
    if not path.is_file():
        raise CotgenError(
            f"--tokenizer {folder}: no {TOKENIZER_FILE} there; save the student's tokenizer with transformers "
            "(AutoTokenizer.from_pretrained(...).save_pretrained(FOLDER)) and point --tokenizer at FOLDER"
        )
    try:
        from tokenizers import Tokenizer
    except ImportError:
        raise CotgenError(
            "--tokenizer needs the 'tokenizers' package: pip install 'cotgen[train]' (or pip install tokenizers)"
        ) from None
    data = path.read_bytes()
    try:
        tokenizer = Tokenizer.from_str(data.decode("utf-8", errors="replace"))
    except Exception as exc:  # noqa: BLE001 - tokenizers raises a bare Exception for every malformed file
        raise CotgenError(f"{path}: not a tokenizers JSON file ({str(exc)[:200]})") from None
    return encoder_of(tokenizer), hashlib.sha256(data).hexdigest()


def encoder_of(tokenizer: Any) -> Encoder:
    """An :data:`Encoder` over a ``tokenizers.Tokenizer`` (a transformers fast tokenizer's ``backend_tokenizer``)."""

    def encode(text: str) -> list[Token]:
        encoding = tokenizer.encode(text, add_special_tokens=False)
        return [
            Token(id=i, text=tokenizer.decode([i], skip_special_tokens=False), start=start, end=end)
            for i, (start, end) in zip(encoding.ids, encoding.offsets)
        ]

    return encode


def prefix_ids(encode: Encoder, word: str) -> list[int]:
    """The ids of the label line's prefix (``Label:``) as the tokenizer writes them just before ``word``."""
    text, start, _ = label_text(word)
    head = start - len(LABEL_PREFIX)
    return [t.id for t in encode(text) if t.start >= head and t.end <= start - _SPACING]


def check_tokenizer(
    folder: Path, classes: Sequence[str], candidates: Mapping[str, Sequence[str]] | None = None
) -> LabelLayout:
    """:func:`choose_label_words` with the tokenizer of ``folder``."""
    encode, digest = tokenizer_encoder(folder)
    return choose_label_words(encode, classes, str(folder), digest, candidates)
