"""The worked comparison in docs/pairs-grpo-eval.md is what the demo run gives: rerun it and hold the doc to it."""

from __future__ import annotations

import json
import re
from pathlib import Path

from cotgen.build import BuildConfig, run_build

DOC = Path(__file__).resolve().parents[1] / "docs" / "pairs-grpo-eval.md"


def _block(name: str) -> str:
    text = DOC.read_text(encoding="utf-8")
    match = re.search(rf"<!-- {name} -->\n(.*?)<!-- /{name} -->", text, re.S)
    assert match, f"docs/pairs-grpo-eval.md lacks the {name} block"
    return match.group(1)


def _signed(value: float) -> str:
    return f"{value:+.3f}".replace("-", "−")


def test_the_documented_demo_comparison_is_what_the_demo_gives(
    tmp_path: Path, cache: Path, cotgen, monkeypatch
) -> None:
    run = tmp_path / "outputs" / "demo"
    run_build(BuildConfig(out=run, cache=cache, samples=2, progress=False))
    monkeypatch.chdir(tmp_path)
    assert cotgen("export", "--format", "trl", "--split", "loso:all", "--in", str(run)).code == 0
    folds = json.loads((run / "export" / "trl" / "folds.json").read_text())
    assert folds["description"] == (
        "2 folds, leave one session out: each fold tests on one session and trains on the other session; "
        "no validation set"
    )
    traces = (run / "traces.jsonl").read_text().splitlines()
    for k in (1, 2):
        (tmp_path / f"sample{k}.jsonl").write_text(
            "".join(line + "\n" for line in traces if f'"sample":{k},' in line), encoding="utf-8"
        )
    common = ["--pred", "sample1.jsonl", "--compare", "sample2.jsonl", "--names", "sample1,sample2", "--in", str(run)]
    shown = cotgen(
        "eval", "--folds", str(run / "export" / "trl"), *common, "--table", "paper/demo", "--output", "f.json"
    )
    assert shown.code == 0, shown.err
    assert (tmp_path / "paper" / "demo.md").read_text(encoding="utf-8") == _block("demo-paper-table")
    js = json.loads((tmp_path / "f.json").read_text())["comparison"]["metrics"]["js"]
    prose = " ".join(DOC.read_text(encoding="utf-8").split())
    fold_1, fold_2 = (_signed(js["differences"][f]).replace("+", "") for f in ("fold_1", "fold_2"))
    assert f"JS differs by {fold_1} on fold 1 and +{fold_2} on fold 2" in prose
    assert f"mean {js['mean']:.3f} ± {js['std']:.3f}, t-test p = {js['p']:.2f}" in prose
    shown = cotgen("eval", *common, "--output", "eval.json")
    assert shown.code == 0, shown.err
    report = json.loads((tmp_path / "eval.json").read_text())
    strata = {(r["stratum"], r["system"]): r for r in report["strata"] if r["by"] == "agreement"}
    model = [f"{strata[(s, 'model')]['metrics']['js']:.3f}" for s in ("unanimous", "mild", "strong")]
    uniform = [f"{strata[(s, 'uniform')]['metrics']['js']:.3f}" for s in ("unanimous", "mild", "strong")]
    counts = [strata[(s, "model")]["n"] for s in ("unanimous", "mild", "strong")]
    assert (
        f"its JS falls from {model[0]} where the annotators were unanimous ({counts[0]} utterances) through "
        f"{model[1]} (mild disagreement, {counts[1]}) to {model[2]} (strong, {counts[2]}), where uniform scores "
        f"{uniform[0]}, {uniform[1]} and {uniform[2]}"
    ) in prose
    top_label = {r["system"]: r["metrics"]["top_label_ece_votes"] for r in report["results"]}
    assert (
        f"oracle {top_label['oracle']:.3f} on the demo, worse than the uniform predictor's {top_label['uniform']:.3f}"
        in prose
    )
    comparison = report["comparison"]["metrics"]
    rows = [line.split(" | ") for line in _block("demo-paired").splitlines()[2:]]
    for metric, row in zip(("js", "brier_mean", "classwise_ece", "wa_ref"), rows):
        figures = comparison[metric]
        lo, hi = figures["ci"]
        assert row[1:4] == [f"{figures['first']:.3f}", f"{figures['second']:.3f}", _signed(figures["difference"])]
        assert row[4] == f"[{_signed(lo)}, {_signed(hi)}]"
        assert row[5] == f"{figures['p']:.3g}" and row[6].rstrip(" |") == f"{figures['p_holm']:.3g}"
