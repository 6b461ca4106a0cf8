"""`python -m crelu_repro.evidence.analysis <figure> RUN_DIR [RUN_DIR...] [--out results/figures]`.

figure: pairing | invariance | reconstruction | all. Each writes `<out>/<figure>.png`, `<out>/<figure>.json`
(the numbers behind it) and adds the image to every run's `tb/` (tag `analysis/<figure>`).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ...core.errors import FAILED, CreluError
from ...core.files import output_dir
from ...train.dashboard import TB
from .invariance import DEFAULT_TRANSFORMS, invariance_figure, invariance_scores
from .pairing import pairing_figure
from .reconstruction import METHOD, NotInvertible, reconstruct, reconstruction_figure
from .runs import Run, conv_layers, eval_images, layer_outputs, load_run, publish

FIGURES = ("pairing", "invariance", "reconstruction")


def run_pairing(runs: list[Run], out: Path, tb: bool = True) -> Path:
    fig, numbers = pairing_figure(runs)
    return publish(fig, numbers, "pairing", out, runs, tb)


def run_invariance(
    runs: list[Run],
    out: Path,
    images: int = 1000,
    pool: int = 200,
    data_root: str | None = None,
    tb: bool = True,
) -> Path:
    curves, numbers = {}, []
    for run in runs:
        x, _, _ = eval_images(run, images, data_root)  # (n, 3, H, W) normalized with this run's statistics
        layers = conv_layers(run.model)
        scores = invariance_scores(lambda b, m=run.model, k=layers: layer_outputs(m, b, k), x, pool=pool)
        curves[run.label] = scores
        numbers.append({**run.summary(), "images": len(x), "layers": _compact(scores)})
    title = (
        "Invariance score (Goodfellow et al. 2009): L/G per unit (a conv channel at the central 50% of "
        f"positions), G = 1% per unit, mean of the top 20% units.\n{len(x)} test images for thresholds, "
        f"the first {pool} under {len(DEFAULT_TRANSFORMS)} transformations (translation +-1,2 px; "
        "rotation +-5,10,15 deg; scale 0.9-1.1)"
    )
    record = {
        "figure": "invariance",
        "method": title.replace("\n", " "),
        "transforms": [str(t) for t in DEFAULT_TRANSFORMS],
        "runs": numbers,
    }
    return publish(invariance_figure(curves, title), record, "invariance", out, runs, tb)


def run_reconstruction(
    runs: list[Run],
    out: Path,
    layers: tuple[str, ...] = ("conv1", "conv2", "conv3", "conv4"),
    n_images: int = 4,
    data_root: str | None = None,
    tb: bool = True,
    max_iter: int = 300,
) -> Path | None:
    record: dict = {"figure": "reconstruction", "method": METHOD.replace("\n", " "), "runs": []}
    panels, means, stds, used = [], [], [], []
    for run in runs:
        x, mean, std = eval_images(run, n_images, data_root)
        entry: dict = {**run.summary(), "layers": {}}
        try:
            recs = {}
            for name in (n for n in layers if n in conv_layers(run.model)):
                rec, notes = reconstruct(run.model, x, name, max_iter=max_iter)
                err = (rec - x).flatten(1).norm(dim=1) / x.flatten(1).norm(dim=1)  # (n,)
                recs[name] = (rec, notes)
                entry["layers"][name] = {
                    **notes,
                    "rel_error": err.tolist(),
                    "rel_error_mean": float(err.mean()),
                }
        except NotInvertible as exc:
            entry["skipped"] = str(exc)
            record["runs"].append(entry)
            print(f"reconstruction: skipping {run.label}: {exc}", file=sys.stderr)
            continue
        panels.append({"label": run.label, "input": x, "layers": recs})
        means.append(mean)
        stds.append(std)
        used.append(run)
        record["runs"].append(entry)
    if not panels:
        print("reconstruction: no run has an invertible (CReLU) path; nothing written", file=sys.stderr)
        return None
    return publish(reconstruction_figure(panels, means, stds), record, "reconstruction", out, used, tb)


def _compact(scores: dict[str, dict]) -> dict[str, dict]:
    """Per-layer scores with per-unit lists rounded, so the JSON stays readable."""
    out = {}
    for name, s in scores.items():
        out[name] = {
            "scores": s["scores"],
            "units": s["units"],
            "valid_units": s["valid_units"],
            "global_rate_mean": sum(s["global_rate"]) / len(s["global_rate"]),
            "unit_scores": {k: [round(v, 3) for v in d["score"]] for k, d in s["units_detail"].items()},
            "events": [int(e) for e in s["events"]],
        }
    return out


def add_options(parser: argparse.ArgumentParser) -> None:
    """The analysis options, shared with `scripts/figures.py`."""
    parser.add_argument("--data-root", default=None, help="dataset root, if not the runs' dataset.root")
    parser.add_argument("--images", type=int, default=1000, help="invariance: test images for thresholds")
    parser.add_argument("--pool", type=int, default=200, help="invariance: images that are transformed")
    parser.add_argument("--recon-images", type=int, default=4, help="reconstruction: images shown per run")
    parser.add_argument(
        "--recon-layers", default="conv1,conv2,conv3,conv4", help="reconstruction: layers, comma-separated"
    )
    parser.add_argument(
        "--recon-iters", type=int, default=300, help="reconstruction: CGLS iterations per layer, at most"
    )
    parser.add_argument("--no-tb", action="store_true", help="do not write to the runs' TensorBoard")


def draw(
    figures: tuple[str, ...] | list[str],
    runs: list[Run],
    recon_runs: list[Run],
    out: Path,
    args: argparse.Namespace,
) -> list[Path]:
    """Draw `figures`: pairing and invariance compare `runs`, reconstruction inverts `recon_runs`.

    Returns the PNGs written (reconstruction writes none when no run is invertible)."""
    tb, written = not args.no_tb, []
    if "pairing" in figures:
        written.append(run_pairing(runs, out, tb))
    if "invariance" in figures:
        written.append(run_invariance(runs, out, args.images, args.pool, args.data_root, tb))
    if "reconstruction" in figures:
        png = run_reconstruction(
            recon_runs,
            out,
            layers=tuple(args.recon_layers.split(",")),
            n_images=args.recon_images,
            data_root=args.data_root,
            tb=tb,
            max_iter=args.recon_iters,
        )
        written += [png] if png else []
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m crelu_repro.evidence.analysis", description=__doc__.split("\n")[0]
    )
    parser.add_argument("figure", choices=(*FIGURES, "all"))
    parser.add_argument("run_dirs", nargs="+", type=Path, metavar="RUN_DIR")
    parser.add_argument("--out", type=Path, default=Path("results/figures"))
    add_options(parser)
    args = parser.parse_args(argv)
    try:
        output_dir(args.out, "--out", create=False)  # a file or a link there: refused before the runs load
        runs = [load_run(d) for d in args.run_dirs]
        for run in runs if not args.no_tb else ():  # each run's TensorBoard gets the figures too
            output_dir(run.run_dir / TB, "the run's TensorBoard folder", create=False, fix="pass --no-tb")
    except CreluError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    todo = FIGURES if args.figure == "all" else (args.figure,)
    try:
        written = draw(todo, runs, runs, args.out, args)
    except CreluError as exc:  # e.g. the runs' dataset is not where their config says
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    if not written and args.figure == "reconstruction":
        return FAILED  # no run had an invertible (CReLU) path: run_reconstruction said so
    for png in written:
        print(f"wrote {png} and {png.with_suffix('.json')}")
    return 0
