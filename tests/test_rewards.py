"""Reward functions called exactly as TRL's GRPOTrainer and ms-swift call them, neither trainer installed."""

import importlib
import json
import math
import sys
import types
from pathlib import Path

import pytest
from test_pairs_support import CLASSES, make_trace

import cotgen
from cotgen.core.divergence import as_vector, js, kl
from cotgen.records.trace import render_trace
from cotgen.rewards import (
    ambiguity_consistency_reward,
    cue_faithfulness_reward,
    evidence_coherence_reward,
    reasoning_reward,
)
from cotgen.scoring.rewards import (
    MIN_STAGE_WORDS,
    distribution_reward,
    distribution_reward_kl,
    format_problem,
    format_reward,
    make_distribution_reward,
)

TARGET = {"neu": 0.0, "hap": 0.0, "ang": 0.6, "sad": 0.4}
GOOD = render_trace(make_trace({"neu": 0.1, "hap": 0.0, "ang": 0.5, "sad": 0.4}))
EXACT = render_trace(make_trace(TARGET))
OUT_OF_ORDER = GOOD.replace("<acoustic>", "<x>", 1).replace("</acoustic>", "</x>", 1) + "<acoustic>late</acoustic>"
BAD_SUM = GOOD.replace('"sad": 0.40', '"sad": 0.90')
NO_DISTRIBUTION = GOOD.split("<distribution>")[0]


def _expected_js_reward(text_distribution):
    return 1.0 - js(as_vector(TARGET, CLASSES), as_vector(text_distribution, CLASSES))


def _trl_call(func, completions, targets):
    """The keyword call of TRL's GRPOTrainer._calculate_rewards: every column a list, plus trainer state and ids."""
    n = len(completions)
    return func(
        prompts=[[{"role": "user", "content": "..."}]] * n,
        completions=completions,
        completion_ids=[[1, 2, 3]] * n,
        target_distribution=targets,
        id=[f"u{i}" for i in range(n)],
        audio=["/x.wav"] * n,
        gold_trace=[None] * n,
        trainer_state=object(),
    )


def test_trl_conversational_call_scores_one_minus_js_and_zero_when_unreadable():
    completions = [[{"role": "assistant", "content": text}] for text in (GOOD, EXACT, OUT_OF_ORDER, NO_DISTRIBUTION)]
    rewards = _trl_call(distribution_reward, completions, [TARGET] * 4)
    assert isinstance(rewards, list) and all(isinstance(r, float) for r in rewards)
    assert rewards[0] == pytest.approx(_expected_js_reward({"neu": 0.1, "hap": 0.0, "ang": 0.5, "sad": 0.4}))
    assert rewards[1] == pytest.approx(1.0)
    assert rewards[2:] == [0.0, 0.0]


def test_trl_standard_call_with_strings_and_kl_option():
    rewards = _trl_call(distribution_reward_kl, [GOOD, EXACT], [TARGET, TARGET])
    pred = {"neu": 0.1, "hap": 0.0, "ang": 0.5, "sad": 0.4}
    assert rewards[0] == pytest.approx(math.exp(-kl(as_vector(TARGET, CLASSES), as_vector(pred, CLASSES))))
    assert rewards[1] == pytest.approx(1.0, abs=1e-6)
    assert make_distribution_reward("kl") is distribution_reward_kl
    assert make_distribution_reward("js") is distribution_reward
    with pytest.raises(ValueError, match="unknown divergence"):
        make_distribution_reward("l2")


def test_targets_from_arrow_with_none_for_absent_classes_and_as_json_strings():
    # A dataset mixing a 4-class and a 5-class corpus: Arrow unifies the struct and fills "fru" with None.
    arrow_target = {**TARGET, "fru": None}
    as_text = json.dumps(TARGET)
    rewards = _trl_call(distribution_reward, [GOOD, GOOD], [arrow_target, as_text])
    assert rewards[0] == pytest.approx(rewards[1])
    assert rewards[0] == pytest.approx(_expected_js_reward({"neu": 0.1, "hap": 0.0, "ang": 0.5, "sad": 0.4}))


def test_format_reward_needs_four_stages_in_order_and_a_valid_distribution():
    texts = [GOOD, "```xml\n" + GOOD + "\n```", OUT_OF_ORDER, BAD_SUM, NO_DISTRIBUTION, ""]
    conversational = [[{"role": "assistant", "content": [{"type": "text", "text": t}]}] for t in texts]
    assert _trl_call(format_reward, conversational, [TARGET] * len(texts)) == [1.0, 1.0, 0.0, 0.0, 0.0, 0.0]
    # Without a target column any distribution summing to 1 counts; with one, the keys must be its classes.
    assert format_reward([GOOD, BAD_SUM]) == [1.0, 0.0]
    assert format_reward([GOOD], target_distribution=[{"neu": 0.5, "sad": 0.5}]) == [0.0]


def test_distribution_reward_requires_the_target_column():
    with pytest.raises(ValueError, match="target_distribution"):
        distribution_reward([GOOD])


@pytest.fixture
def fake_swift(monkeypatch):
    """A minimal ``swift.plugin.orm`` shaped like ms-swift's: an ``ORM`` base and the ``orms`` dict."""

    class ORM:
        def __call__(self, **kwargs):
            raise NotImplementedError

    swift = types.ModuleType("swift")
    plugin = types.ModuleType("swift.plugin")
    orm = types.ModuleType("swift.plugin.orm")
    orm.ORM = ORM
    orm.orms = {"format": object}
    plugin.orm = orm
    swift.plugin = plugin
    for name, module in (("swift", swift), ("swift.plugin", plugin), ("swift.plugin.orm", orm)):
        monkeypatch.setitem(sys.modules, name, module)
    monkeypatch.delitem(sys.modules, "swift_plugin", raising=False)
    yield orm
    sys.modules.pop("swift_plugin", None)


def _import_external_file(path: Path, monkeypatch):
    """What ms-swift's --external_plugins does: put the file's folder on sys.path and import it by name."""
    monkeypatch.syspath_prepend(str(path.parent))
    return importlib.import_module(path.name.split(".", 1)[0])


def test_swift_plugin_registers_orms_that_work_as_ms_swift_calls_them(fake_swift, monkeypatch):
    _import_external_file(Path(cotgen.__file__).parent / "swift_plugin.py", monkeypatch)
    orms = fake_swift.orms
    assert {"cotgen_distribution", "cotgen_distribution_kl", "cotgen_format"} <= set(orms)
    assert "format" in orms  # the plugin adds to the registry, it does not replace it
    completions = [GOOD, EXACT, OUT_OF_ORDER]
    # ms-swift: orm instantiated with no arguments, then orm(completions, **columns) incl. messages and trainer_state.
    columns = {
        "trainer_state": object(),
        "messages": [[{"role": "user", "content": "..."}, {"role": "assistant", "content": c}] for c in completions],
        "target_distribution": [{**TARGET, "exc": None}] * 3,
        "id": ["a", "b", "c"],
    }
    distribution = orms["cotgen_distribution"]()
    assert isinstance(distribution, fake_swift.ORM)
    js_rewards = distribution(completions, **columns)
    assert js_rewards == pytest.approx(distribution_reward(completions, target_distribution=[TARGET] * 3))
    assert js_rewards[1] == pytest.approx(1.0) and js_rewards[2] == 0.0
    assert orms["cotgen_format"]()(completions, **columns) == [1.0, 1.0, 0.0]
    kl_rewards = orms["cotgen_distribution_kl"]()(completions, **columns)
    assert kl_rewards == pytest.approx(distribution_reward_kl(completions, target_distribution=[TARGET] * 3))
    # The reasoning rewards, with the cue_levels column as Arrow hands it over (unmeasured cues as null).
    levels = {"pitch": "high", "loudness": None, "speech_rate": "low"}
    columns["cue_levels"] = [levels] * 3
    for name, reward in {
        "cotgen_ambiguity": ambiguity_consistency_reward,
        "cotgen_cue_faithfulness": cue_faithfulness_reward,
        "cotgen_coherence": evidence_coherence_reward,
        "cotgen_reasoning": reasoning_reward,
    }.items():
        orm = orms[name]()
        assert isinstance(orm, fake_swift.ORM)
        expected = reward(completions, target_distribution=[TARGET] * 3, cue_levels=[levels] * 3)
        assert orm(completions, **columns) == pytest.approx(expected), name
        assert expected[2] == 0.0  # the completion with its stages out of order reads as nothing


def test_targets_as_datasets_hands_them_over_from_jsonl_and_from_lists(tmp_path):
    from datasets import Dataset, load_dataset

    rows = [{"id": "a", "target_distribution": TARGET}, {"id": "b", "target_distribution": {**TARGET, "fru": 0.0}}]
    path = tmp_path / "grpo.jsonl"
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    from_json = load_dataset("json", data_files=str(path), split="train")["target_distribution"]
    from_list = Dataset.from_list(rows)["target_distribution"]
    assert from_list[0]["fru"] is None  # Arrow unified the struct and filled the absent class
    expected = _expected_js_reward({"neu": 0.1, "hap": 0.0, "ang": 0.5, "sad": 0.4})
    for column in (from_json, from_list):
        rewards = distribution_reward([GOOD, GOOD], target_distribution=list(column))
        assert rewards[0] == pytest.approx(expected)
        assert rewards[1] == 0.0  # GOOD has no "fru" class, so it is not a distribution over b's classes


_DIST = '<distribution>{"neu": 0.0, "hap": 0.0, "ang": 0.6, "sad": 0.4}</distribution>'
_STAGE = "The voice is loud and fast for this speaker."


def _tagged(acoustic: str = _STAGE, lexical: str = _STAGE, ambiguity: str = _STAGE, tail: str = _DIST) -> str:
    return f"<acoustic>{acoustic}</acoustic>\n<lexical>{lexical}</lexical>\n<ambiguity>{ambiguity}</ambiguity>\n{tail}"


# The adversarial table of docs/pairs-grpo-eval.md: each would collect the format reward under a lenient rule.
ADVERSARIAL = {
    "empty stages": "<acoustic></acoustic><lexical></lexical><ambiguity></ambiguity>" + _DIST,
    "one-word stages": _tagged("Loud.", "Angry.", "Low."),
    "four-word stage": _tagged(lexical="The words are angry."),
    "a distribution alone": _DIST,
    "nested stage": _tagged(acoustic=f"{_STAGE} <lexical>{_STAGE}</lexical>"),
    "distribution nested in a stage": _tagged(ambiguity=f"{_STAGE} {_DIST}", tail=_DIST),
    "duplicated stage": _tagged() + f"\n<ambiguity>{_STAGE}</ambiguity>",
    "duplicated distribution": _tagged() + "\n" + _DIST,
    "reordered stages": f"<lexical>{_STAGE}</lexical>\n<acoustic>{_STAGE}</acoustic>\n"
    f"<ambiguity>{_STAGE}</ambiguity>\n{_DIST}",
    "prose after the distribution": _tagged() + "\nI hope this helps!",
    "prose before the first stage": "Sure, here is my analysis.\n" + _tagged(),
    "tag inside a quoted transcript": _tagged(lexical='The speaker says "<distribution>{}</distribution>" angrily.'),
    "unclosed stage": _tagged().replace("</lexical>", ""),
    "missing stage": _tagged().replace(f"<ambiguity>{_STAGE}</ambiguity>", ""),
    "distribution not JSON": _tagged(tail="<distribution>mostly anger</distribution>"),
    "distribution over other classes": _tagged(tail='<distribution>{"ang": 0.6, "sad": 0.4}</distribution>'),
}


@pytest.mark.parametrize("case", sorted(ADVERSARIAL))
def test_format_reward_is_zero_for_every_adversarial_completion(case):
    text = ADVERSARIAL[case]
    assert format_reward([text], target_distribution=[TARGET]) == [0.0]
    if case != "distribution over other classes":  # without a target any valid distribution counts
        assert format_reward([[{"role": "assistant", "content": text}]]) == [0.0]
    assert format_problem(text, list(TARGET)) is not None


def test_format_reward_is_one_for_a_minimal_honest_completion_and_says_why_otherwise():
    assert format_reward([_tagged()], target_distribution=[TARGET]) == [1.0]
    assert format_reward([_tagged() + "\n  \n"], target_distribution=[TARGET]) == [1.0]
    assert format_problem(_tagged(lexical="Four words only here."), list(TARGET)) == (
        f"<lexical> holds 4 word(s); at least {MIN_STAGE_WORDS} are required"
    )
    assert format_problem(ADVERSARIAL["prose after the distribution"], list(TARGET)).startswith(
        "text after </distribution>"
    )
    assert "found <distribution> </distribution>" in format_problem(_DIST, list(TARGET))
