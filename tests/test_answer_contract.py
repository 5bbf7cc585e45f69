"""One answer contract: every ``--answer`` mode export offers reads the same in the format reward, the parser,
eval and predict.

The modes: ``text`` (the trace, ``<distribution>`` last), ``label`` (plus ``Label: CODE``) and ``label`` with a
code -> word vocabulary (``Label: angry``, the words a tokenizer-aware export chooses). For each, the exported
gold texts (SFT completions, DPO chosen and rejected, GRPO gold traces) get format reward 1 with the row's own
columns and parse to the distribution the text-mode export of the same record prints; predict's outcome and
eval's reader give that distribution too. A label line that breaks the contract is named.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from test_export_fixtures import CLASSES, load_rows, make_run

from cotgen.export.writer import export_run
from cotgen.predict.outcome import prediction
from cotgen.records.answer import AnswerContract, AnswerContractError, label_code
from cotgen.records.trace import parse_sections
from cotgen.rewards import format_problem, format_reward
from cotgen.scoring.evaluate import read_predictions
from cotgen.teachers.openai_teacher import ChatResult

WORDS = {"neu": "neutral", "hap": "happy", "ang": "angry", "sad": "sad"}
MODES = {
    "text": {"answer": "text"},
    "label": {"answer": "label"},
    "label-words": {"answer": "label", "label_words": WORDS},
}


@pytest.fixture(scope="module")
def exports(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, list[dict]]]:
    """Each mode's TRL and ms-swift rows, as ``datasets`` loads them, keyed by '<format>/<kind>'."""
    root = tmp_path_factory.mktemp("answer")
    run = make_run(root)
    loaded: dict[str, dict[str, list[dict]]] = {}
    for name, options in MODES.items():
        rows: dict[str, list[dict]] = {}
        for fmt in ("trl", "swift"):
            out = export_run(run, fmt, out_dir=root / name / fmt, **options).out_dir  # type: ignore[arg-type]
            for kind in ("sft", "dpo", "grpo"):
                rows[f"{fmt}/{kind}"] = load_rows(out / f"{kind}_train.jsonl", root / "cache" / name / fmt / kind)
        loaded[name] = rows
    return loaded


def _answers(rows: dict[str, list[dict]]) -> list[tuple[str, str, dict]]:
    """(row id + role, answer text, row) for every gold-side text the export wrote."""
    found = []
    for row in rows["trl/sft"]:
        found.append((f"{row['id']} sft", row["completion"][0]["content"], row))
    for row in rows["trl/dpo"]:
        found.append((f"{row['id']} chosen", row["chosen"][0]["content"], row))
        found.append((f"{row['id']} rejected", row["rejected"][0]["content"], row))
    for row in rows["swift/sft"]:
        found.append((f"{row['id']} swift sft", row["messages"][-1]["content"], row))
    for row in rows["swift/dpo"]:
        found.append((f"{row['id']} swift rejected", row["rejected_response"], row))
    for key in ("trl/grpo", "swift/grpo"):
        found += [(f"{row['id']} {key} gold", row["gold_trace"], row) for row in rows[key] if row["gold_trace"]]
    return found


@pytest.mark.parametrize("mode", list(MODES))
def test_every_exported_answer_gets_format_reward_one_and_parses_to_the_text_modes_distribution(
    exports: dict[str, dict[str, list[dict]]], mode: str
) -> None:
    plain = {where: parse_sections(text, CLASSES).distribution for where, text, _ in _answers(exports["text"])}
    answers = _answers(exports[mode])
    assert len(answers) == len(plain) >= 20
    for where, text, row in answers:
        target = {code: 0.25 for code in CLASSES}
        words = row.get("label_words")
        assert format_reward([text], target_distribution=[target], label_words=[words]) == [1.0], (
            where,
            format_problem(text, CLASSES, AnswerContract("label", words) if words else AnswerContract()),
        )
        sections = parse_sections(text, CLASSES)
        assert sections.distribution == plain[where], where
        if mode == "text":
            assert sections.label is None
        else:
            contract = AnswerContract("label", words)
            assert contract.code_of(sections.label, CLASSES) == label_code(sections.distribution), where
            assert text.endswith(f"Label: {(words or {}).get(label_code(sections.distribution), sections.label)}")


def test_label_rows_carry_the_vocabulary_the_format_reward_requires(exports: dict[str, dict[str, list[dict]]]) -> None:
    for key in ("trl/sft", "trl/dpo", "trl/grpo", "swift/sft", "swift/dpo", "swift/grpo"):
        assert all(row["label_words"] == WORDS for row in exports["label-words"][key]), key
        assert all("label_words" not in row for row in exports["text"][key]), key
    text_gold = next(row["gold_trace"] for row in exports["text"]["trl/grpo"] if row["gold_trace"])
    # A label-mode row wants its line: the text-mode gold (no label line) fails there, and passes without the column.
    assert format_reward([text_gold], label_words=[WORDS]) == [0.0]
    assert format_reward([text_gold]) == [1.0]


def test_predict_and_eval_read_every_mode_alike(exports: dict[str, dict[str, list[dict]]], tmp_path: Path) -> None:
    for mode in MODES:
        lines = []
        for n, (where, text, _) in enumerate(_answers(exports[mode])):
            result = ChatResult(text, "stop", None, 10, 10, 1, False)
            record = prediction(f"u{n}", 1, "student", result, CLASSES, "0" * 64)
            assert record.error is None, (mode, where, record.error)
            assert record.distribution == parse_sections(text, CLASSES).distribution
            lines.append(json.dumps({"id": f"u{n}", "sample": 1, "text": text}))
        path = tmp_path / f"{mode}.jsonl"
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        read = read_predictions(path, CLASSES)
        assert all(isinstance(outcome[1], dict) for outcome in read.samples.values()), mode


TRACE = (
    "<acoustic>\n- pitch: high. The pitch rises well above the usual. Suggests: ang.\nSummary: A tense, raised voice.\n"
    "</acoustic>\n<lexical>\n- 'now' → An insistent demand for action. Suggests: ang.\nSummary: The words demand "
    "action.\n</lexical>\n<ambiguity>\nLevel: medium. Competing: ang, neu. Anger leads but a calm reading remains "
    'possible.\n</ambiguity>\n<distribution>{"neu": 0.4, "hap": 0.0, "ang": 0.6, "sad": 0.0}</distribution>'
)


@pytest.mark.parametrize(
    ("tail", "contract", "problem"),
    [
        ("", AnswerContract(), None),
        ("\nLabel: ang", AnswerContract(), None),
        ("\nLabel: ang\n", AnswerContract("label"), None),
        ("\nLabel:   angry  ", AnswerContract("label", WORDS), None),
        ("\nLabel: ANGRY", AnswerContract("label", WORDS), None),
        ("", AnswerContract("label"), "the label line is missing"),
        ("\nLabel: ang", AnswerContract("label", WORDS), "names no class"),
        ("\nLabel: neu", AnswerContract(), "not the class the distribution puts the most mass on"),
        ("\nLabel: fear", AnswerContract(), "names no class"),
        ("\nLabel: ang\nLabel: ang", AnswerContract(), "only one 'Label: WORD' line"),
        ("\nLabel: ang\nI hope this helps!", AnswerContract("label"), "only one 'Label: WORD' line"),
        ("\nThe answer is anger.", AnswerContract(), "text after </distribution>"),
        ("\nLabel:", AnswerContract(), "text after </distribution>"),
    ],
)
def test_the_format_check_names_what_breaks_the_label_line(
    tail: str, contract: AnswerContract, problem: str | None
) -> None:
    found = format_problem(TRACE + tail, CLASSES, contract)
    if problem is None:
        assert found is None
    else:
        assert found is not None and problem in found


def test_a_tie_may_be_labelled_with_either_top_class() -> None:
    tied = TRACE.replace('"neu": 0.4', '"neu": 0.5').replace('"ang": 0.6', '"ang": 0.5')
    assert format_problem(tied + "\nLabel: neu", CLASSES) is None
    assert format_problem(tied + "\nLabel: ang", CLASSES) is None
    assert AnswerContract("label").label_line({"neu": 0.5, "ang": 0.5}) == "Label: neu"  # the earlier class


@pytest.mark.parametrize(
    ("words", "needle"),
    [
        ({"neu": "calm", "ang": "Calm"}, "share the label word"),
        ({"neu": "", "ang": "angry"}, "non-empty"),
        ({"neu": " calm", "ang": "angry"}, "without surrounding spaces"),
        ({"neu": "calm\nLabel", "ang": "angry"}, "one line"),
    ],
)
def test_a_label_vocabulary_that_cannot_name_one_class_per_word_is_refused(words: dict, needle: str) -> None:
    with pytest.raises(AnswerContractError, match=needle):
        AnswerContract("label", words)


def test_an_export_vocabulary_missing_a_class_is_a_user_error(tmp_path: Path) -> None:
    from cotgen.core.errors import CotgenError

    run = make_run(tmp_path)
    with pytest.raises(CotgenError, match="no label word for class 'sad'"):
        export_run(run, "trl", answer="label", label_words={"neu": "n", "hap": "h", "ang": "a"})
    with pytest.raises(CotgenError, match="only apply to --answer label"):
        export_run(run, "trl", answer="text", label_words=WORDS)
