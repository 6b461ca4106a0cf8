"""The pictures: per table, our Average with its 95% interval beside the paper's number; a forest plot of
every check; both also in TensorBoard, with the report as text. Headless (no pyplot), written atomically."""

from __future__ import annotations

from pathlib import Path

from matplotlib.axes import Axes
from matplotlib.figure import Figure

from ...core import files
from ..stats import reference_difference
from .assess import Assessment
from .checks import Check, Sweeps
from .spec import VOTE

COLORS = {"reproduced": "tab:green", "contradicted": "tab:red", "inconclusive": "tab:gray", "not run": "0.8"}
SCALES = {  # forest plot panels: effects on different scales never share an axis
    "pairing": "pairing: mu, trained − Gaussian (cosine)",
    "invariance": "invariance: score, CReLU − ReLU",
    "reconstruction": "reconstruction: threshold − relative error",
}
TABLE_SCALE = "tables: error difference (% points)"
VOTE_SCALE = "Votes: error difference (% points), test-set intervals (test-set uncertainty only)"


def save(fig: Figure, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    files.atomic_write(path, lambda f: fig.savefig(f, format="png", dpi=fig.dpi))  # no half-written PNG
    return path


def table_figure(name: str, sweeps: Sweeps, quick: bool) -> Figure:
    """One panel per (dataset, metric): each row's Average over our runs with its 95% interval (t over
    runs), and the paper's number as a red diamond."""
    table = sweeps.table(name)
    rows = sweeps.rows(name)
    models = table.rows
    panels = [(d, m.key, m.title) for d in table.datasets for m in table.spec.metrics]
    fig = Figure(figsize=(3.4 * len(panels), 0.35 * len(models) + 1.4), dpi=90, layout="constrained")
    axes = fig.subplots(1, len(panels), squeeze=False, sharey=True)[0]
    for ax, (dataset, key, title) in zip(axes, panels, strict=True):
        for y, model in enumerate(models):
            row = rows.get((model, dataset))
            values = row.values.get(key, []) if row else []
            paper = row.paper.get(key) if row else None
            if paper is not None:
                ax.plot(paper, y, "D", color="tab:red", ms=5, label="paper" if y == 0 else None)
            if values:
                mean = sum(values) / len(values)
                diff = reference_difference(values, 0.0)  # its interval is the mean's t interval
                err = [[mean - diff.low], [diff.high - mean]] if diff and diff.low is not None else None
                label = "ours (95% CI)" if y == 0 else None
                ax.errorbar(mean, y, xerr=err, fmt="o", color="tab:blue", capsize=3, ms=4, label=label)
            note = f"n={len(values)}" if values else "not run"
            ax.annotate(
                note,
                (0.99, y),
                xycoords=("axes fraction", "data"),
                fontsize=6,
                ha="right",
                va="bottom",
                color="0.4",
            )
        ax.margins(x=0.2)
        ax.set_title(f"{dataset}: {title}", fontsize=9)
        ax.set_xlabel("error (%)", fontsize=8)
        ax.grid(alpha=0.3)
        ax.tick_params(labelsize=7)
    axes[0].set_yticks(range(len(models)), models)
    axes[0].invert_yaxis()
    handles = {h.get_label(): h for ax in axes for h in ax.get_legend_handles_labels()[0]}
    if handles:
        axes[-1].legend(handles.values(), handles.keys(), fontsize=7, loc="best")
    fig.suptitle(table.spec.title + (" — QUICK smoke run, not comparable" if quick else ""), fontsize=9)
    return fig


def _scale(check: Check) -> str:
    return VOTE_SCALE if check.metric == VOTE else SCALES.get(check.table, TABLE_SCALE)


def _oriented(x: float | None, check: Check) -> float | None:
    """Signed so that positive is the paper's direction."""
    return None if x is None else (-x if check.expect == "<" else x)


def forest_figure(assessments: list[Assessment], quick: bool) -> Figure:
    """Every check: its effect, turned so that right of 0 is the paper's direction, with the 95% interval,
    coloured by verdict; the paper's own effect as a red diamond. One panel per scale; the Votes' test-set
    intervals in a panel of their own."""
    checks = [c for a in assessments for c in a.checks]
    scales = list(dict.fromkeys(_scale(c) for c in checks))
    sizes = [sum(_scale(c) == s for c in checks) for s in scales]
    fig = Figure(figsize=(9.5, 0.16 * len(checks) + 0.9 * len(scales) + 1), dpi=90, layout="constrained")
    axes = fig.subplots(len(scales), 1, squeeze=False, gridspec_kw={"height_ratios": sizes})[:, 0]
    for ax, scale in zip(axes, scales, strict=True):
        mine = [c for c in checks if _scale(c) == scale]
        for y, c in enumerate(mine):
            _forest_row(ax, y, c)
        ax.axvline(0, color="black", lw=0.8)
        ax.set_yticks(range(len(mine)), [_label(c) for c in mine], fontsize=6)
        for tick, c in zip(ax.get_yticklabels(), mine, strict=True):
            tick.set_color("0.55" if c.effect is None else "black")  # nothing to plot: the label says why
        ax.set_ylim(len(mine) - 0.5, -0.5)
        ax.set_title(scale, fontsize=8)
        ax.tick_params(axis="x", labelsize=7)
        ax.grid(axis="x", alpha=0.3)
    handles = [axes[0].plot([], [], "o", color=color, label=verdict)[0] for verdict, color in COLORS.items()]
    handles.append(axes[0].plot([], [], "D", color="tab:red", mfc="none", label="the paper's effect")[0])
    handles.append(axes[0].plot([], [], "o", color="0.3", mfc="none", label="not counted")[0])
    fig.legend(handles=handles, fontsize=7, loc="outside lower center", ncol=len(handles))
    title = (
        "The paper's claims: our effect and its 95% interval per check, right of 0 = the paper's direction "
        "(Votes: over the test images)"
    )
    fig.suptitle(title + ("\nQUICK smoke run: these verdicts mean nothing" if quick else ""), fontsize=9)
    return fig


def _forest_row(ax: Axes, y: int, c: Check) -> None:
    """One check: its effect (hollow when it does not count), interval, and the paper's effect."""
    effect, face = _oriented(c.effect, c), COLORS[c.verdict] if c.counts else "none"
    if effect is not None and c.ci is None:
        ax.plot(effect, y, "o", color=COLORS[c.verdict], mfc=face, ms=4)
    elif effect is not None:
        low, high = sorted(_oriented(v, c) for v in c.ci)
        err = [[effect - low], [high - effect]]
        ax.errorbar(effect, y, xerr=err, fmt="o", color=COLORS[c.verdict], mfc=face, ms=4, capsize=2)
    paper = _oriented(c.paper_effect, c)
    if paper is not None:
        ax.plot(paper, y, "D", color="tab:red", mfc="none", ms=4)


def _label(c: Check) -> str:
    kind = " (not worse)" if c.kind == "not_worse" else ""
    text = f"{c.claim_id} · {c.dataset} · {c.metric} · {c.left} {c.expect} {c.right}{kind}"
    return text + (f" — {c.verdict}" if c.effect is None else "")


def to_tensorboard(log_dir: Path, pngs: dict[str, Path], report: str) -> None:
    """Replace the claims' TensorBoard events under `log_dir` with these PNGs and the report as text."""
    from matplotlib.image import imread
    from torch.utils.tensorboard import SummaryWriter

    log_dir.mkdir(parents=True, exist_ok=True)
    for old in log_dir.glob("events.out.tfevents.*"):  # ours alone: this folder holds only the claims
        old.unlink()
    with SummaryWriter(str(log_dir)) as writer:
        for tag, png in pngs.items():  # the written PNGs, not a second rendering of each figure
            writer.add_image(f"claims/{tag}", imread(png)[..., :3], global_step=0, dataformats="HWC")
        writer.add_text("claims/report", report, global_step=0)
