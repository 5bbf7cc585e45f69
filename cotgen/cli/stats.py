"""``cotgen stats``: print a run's statistics, draw its plots, record them in run.json and refresh the card."""

from __future__ import annotations

from rich.table import Table

from cotgen.cli.app import app, console
from cotgen.cli.options import RunOption
from cotgen.core.paths import DEFAULT_RUN


def _cell(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.3f}"
    if isinstance(value, dict):
        return ", ".join(f"{k} {_cell(v)}" for k, v in value.items())
    return "n/a" if value is None else str(value)


@app.command()
def stats(run_dir: RunOption = DEFAULT_RUN) -> None:
    """Print the run's statistics and write PNG plots to <run>/plots/."""
    # Imported here, not at the top: `cotgen` imports every command module for every command, and these load
    # matplotlib, pandas and huggingface_hub (about 90 MB) that only this command uses.
    from cotgen.build.state import traces_fingerprint
    from cotgen.core.durable_files import read_run_json, update_run_json
    from cotgen.core.run_lock import run_lock
    from cotgen.export.record_readers import load_run, read_features
    from cotgen.records.faithfulness_gate import run_gate
    from cotgen.report.card import write_card
    from cotgen.report.plots import write_plots
    from cotgen.report.stats import compute_stats

    with run_lock(run_dir, "cotgen stats"):
        data = load_run(run_dir)
        gate = run_gate(read_run_json(run_dir).get("config"))
        summary = compute_stats(
            data.utterances, data.traces, data.dpo, sft=len(data.sft), grpo=len(data.grpo), faithful_at=gate
        )
        plots = write_plots(data, read_features(run_dir), run_dir / "plots")
        section = {**summary.as_dict(), "plots": {k: str(p) for k, p in plots.items()}}
        update_run_json(run_dir, "stats", {**section, "traces_fingerprint": traces_fingerprint(run_dir)})
        write_card(run_dir)
    table = Table(title=f"statistics of {run_dir}")
    table.add_column("statistic")
    table.add_column("value", justify="right")
    for name, value in summary.as_dict().items():
        table.add_row(name.replace("_", " "), _cell(value))
    console.print(table)
    for name, path in plots.items():
        console.print(f"plot {name}: {path}")
