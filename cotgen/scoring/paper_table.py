"""The table a paper pastes: systems × metrics, mean ± std over folds, as Markdown, LaTeX and CSV.

Built from the ``mean`` and ``std`` rows of :func:`cotgen.scoring.folds.fold_table` (so from the per-fold
reports alone). Each metric's header carries its better direction (↑ higher, ↓ lower); the systems come in
a fixed order: the model(s) compared first, then the baselines, marked "(baseline)", then the oracle, marked
† and footnoted, since the human distribution is a ceiling and not a competitor. Values are printed with
three decimals; the CSV keeps full precision for anyone re-plotting.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from cotgen.scoring.metrics import DEFINITIONS, HIGHER_IS_BETTER

MODELS: tuple[str, ...] = ("model", "compared")
BASELINE_SYSTEMS: tuple[str, ...] = ("uniform", "prior")
ORACLE_SYSTEM = "oracle"
ORACLE_FOOTNOTE = "† the human distribution itself: a ceiling, not a competitor."
DECIMALS = 3


@dataclass(frozen=True)
class PaperRow:
    """One system's line: its label, its role and (mean, std) per metric (None where undefined)."""

    system: str
    label: str
    role: str  # "model", "baseline" or "oracle"
    cells: dict[str, tuple[float | None, float | None]]


def paper_rows(
    table: Sequence[Mapping[str, Any]], metrics: Sequence[str], labels: Mapping[str, str] | None = None
) -> list[PaperRow]:
    """The table's rows in paper order from ``fold_table``'s ``mean`` and ``std`` rows."""
    labels = labels or {}
    means = {r["system"]: r["metrics"] for r in table if r["row"] == "mean"}
    stds = {r["system"]: r["metrics"] for r in table if r["row"] == "std"}
    order = [s for s in MODELS if s in means]
    order += [s for s in means if s not in (*MODELS, *BASELINE_SYSTEMS, ORACLE_SYSTEM)]
    order += [s for s in (*BASELINE_SYSTEMS, ORACLE_SYSTEM) if s in means]
    rows = []
    for system in order:
        role = "oracle" if system == ORACLE_SYSTEM else "baseline" if system in BASELINE_SYSTEMS else "model"
        name = labels.get(system, system)
        label = f"{name} (baseline)" if role == "baseline" else f"{name}†" if role == "oracle" else name
        cells = {m: (means[system].get(m), stds.get(system, {}).get(m)) for m in metrics}
        rows.append(PaperRow(system, label, role, cells))
    return rows


def cell_text(mean: float | None, std: float | None, plus_minus: str = "±") -> str:
    """``0.201 ± 0.013``; the mean alone without a std (one fold); ``–`` when undefined."""
    if mean is None:
        return "–"
    if std is None:
        return f"{mean:.{DECIMALS}f}"
    return f"{mean:.{DECIMALS}f} {plus_minus} {std:.{DECIMALS}f}"


def header(metric: str, names: Mapping[str, str], up: str = "↑", down: str = "↓") -> str:
    """A metric's display name with its better direction."""
    return f"{names.get(metric, metric)} {up if HIGHER_IS_BETTER[metric] else down}"


def notes(metrics: Sequence[str], names: Mapping[str, str]) -> list[str]:
    """One line per metric of the table that needs saying what it is (both Brier conventions, both ECEs)."""
    return [f"{names.get(m, m)}: {DEFINITIONS[m]}." for m in metrics if m in DEFINITIONS]


def to_markdown(rows: Sequence[PaperRow], metrics: Sequence[str], names: Mapping[str, str], folds: int) -> str:
    """A GitHub/Pandoc pipe table with a caption line, the oracle footnote and what each Brier and ECE is."""
    lines = [
        f"Mean ± standard deviation over {folds} folds.",
        "",
        "| system | " + " | ".join(header(m, names) for m in metrics) + " |",
        "|---|" + "---:|" * len(metrics),
    ]
    for row in rows:
        lines.append(f"| {row.label} | " + " | ".join(cell_text(*row.cells[m]) for m in metrics) + " |")
    footnotes = ([ORACLE_FOOTNOTE] if any(row.role == "oracle" for row in rows) else []) + notes(metrics, names)
    if footnotes:
        lines += ["", *(f"{line}  " for line in footnotes[:-1]), footnotes[-1]]  # two spaces: a Markdown line break
    return "\n".join(lines) + "\n"


_LATEX_SPECIAL = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_"}
_LATEX_SPECIAL |= {"{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}"}
_LATEX_NAMES = {"R²": "R$^2$", "ρ(H)": r"$\rho(H)$", "†": r"$^\dagger$"}


def latex_escape(text: str) -> str:
    """Text safe inside a LaTeX table cell (user-chosen system names may hold ``_`` or ``&``)."""
    escaped = "".join(_LATEX_SPECIAL.get(ch, ch) for ch in text)
    for plain, latex in _LATEX_NAMES.items():
        escaped = escaped.replace(plain, latex)
    return escaped


def to_latex(rows: Sequence[PaperRow], metrics: Sequence[str], names: Mapping[str, str], folds: int) -> str:
    """A booktabs ``table`` environment; the baselines and the oracle below a rule of their own."""
    heads = [
        latex_escape(names.get(m, m)) + (r" $\uparrow$" if HIGHER_IS_BETTER[m] else r" $\downarrow$") for m in metrics
    ]
    lines = [
        r"\begin{table}[t]",
        r"\centering",
        rf"\caption{{Mean $\pm$ standard deviation over {folds} folds.}}",
        r"\begin{tabular}{l" + "r" * len(metrics) + "}",
        r"\toprule",
        "System & " + " & ".join(heads) + r" \\",
        r"\midrule",
    ]
    previous = None
    for row in rows:
        if previous == "model" and row.role != "model":
            lines.append(r"\midrule")
        cells = [cell_text(*row.cells[m], plus_minus=r"$\pm$").replace("-", "$-$") for m in metrics]  # a minus sign
        lines.append(latex_escape(row.label) + " & " + " & ".join(cells) + r" \\")
        previous = row.role
    lines += [r"\bottomrule", r"\end{tabular}"]
    footnotes = ([ORACLE_FOOTNOTE] if any(row.role == "oracle" for row in rows) else []) + notes(metrics, names)
    if footnotes:
        lines.append(r"\par\smallskip{\footnotesize " + r" \\ ".join(latex_escape(f) for f in footnotes) + "}")
    lines.append(r"\end{table}")
    return "\n".join(lines) + "\n"


def to_csv(rows: Sequence[PaperRow], metrics: Sequence[str]) -> str:
    """One line per system: ``system, label, role`` and ``<metric>_mean, <metric>_std`` at full precision."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["system", "label", "role", *(f"{m}_{s}" for m in metrics for s in ("mean", "std"))])
    for row in rows:
        values = [v for m in metrics for v in row.cells[m]]
        writer.writerow([row.system, row.label, row.role, *("" if v is None else repr(v) for v in values)])
    return buffer.getvalue()
