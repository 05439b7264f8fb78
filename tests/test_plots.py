"""Figures that never mislead: words instead of blank axes, divergence marked and
counted, log scales past three decades, probe gaps left as gaps, titles that name
the setting, colour bars beside their panels, and no pyplot.

The checks read the figure's objects (texts, legends, lines, axes positions),
never pixels; the figures are the ones the command line saves.
"""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from relu_study.runs.plots import dead_figure, loss_figure, loss_scale
from relu_study.sweeps.plots import curves_figure, final_vs_alpha_figure, heatmap_figure


def run_table(n_seeds=4, epochs=10, diverged=None, losses=None, probe_every=1):
    """A metrics table by hand: ``diverged`` = {seed: epoch}; ``losses(seed, epoch)``."""
    diverged = diverged or {}
    losses = losses or (lambda s, e: 1.0 / (1 + e) + 0.01 * s)
    rows = []
    for seed in range(n_seeds):
        last = diverged.get(seed, epochs)
        for epoch in range(last + 1):
            bad = seed in diverged and epoch == last
            probed = epoch % probe_every == 0 or epoch == epochs
            dead = np.nan if bad or not probed else 0.1 + 0.01 * epoch
            rows.append({"seed": seed, "epoch": epoch, "diverged": bad,
                         "train_loss": np.nan if bad else losses(seed, epoch),
                         "val_loss": np.nan if bad else losses(seed, epoch) * 1.1,
                         "dead_frac": dead, "dead_frac_l1": dead, "dead_frac_l2": dead})
    table = pd.DataFrame(rows)
    config = {"activation.name": "leaky", "alpha": 0.1, "dataset.name": "moons", "model.name": "deep",
              "model.depth": 8, "model.width": 16, "model.widths": "null", "init.name": "negative_bias",
              "optimizer.name": "sgd", "optimizer.lr": 0.5, "task": "classification"}
    return table.assign(**config)


def texts(fig) -> str:
    found = [t.get_text() for t in fig.texts]
    for ax in fig.axes:
        found += [t.get_text() for t in ax.texts]
    return "\n".join(found).replace("\n", " ")


def legend_title(fig) -> str:
    return fig.axes[0].get_legend().get_title().get_text()


# ------------------------------------------------------------------ no blank axes
def test_untrained_run_says_so_in_its_saved_figures(tmp_path):
    """``epochs=0`` through the command line: the figures are written, and the
    figure drawn from the saved table says in words that nothing was trained."""
    out = tmp_path / "R"
    proc = subprocess.run([sys.executable, "-m", "relu_study", "epochs=0", "seeds=2", "dataset.n_samples=200",
                           "model.width=8", f"hydra.run.dir={out}"], capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, proc.stderr
    assert (out / "loss.png").stat().st_size > 1000 and (out / "dead.png").stat().st_size > 1000
    table = pd.read_parquet(out / "metrics.parquet")
    for fig in (loss_figure(table), dead_figure(table)):
        assert "epochs=0: nothing was trained" in texts(fig)
        assert fig.axes[0].lines
        assert all(len(line.get_xdata()) == 1 for line in fig.axes[0].lines)  # a point each, drawn with a marker
        assert all(line.get_marker() not in (None, "None", "") for line in fig.axes[0].lines)


def test_every_network_diverged_says_so():
    table = run_table(diverged={0: 3, 1: 4, 2: 3, 3: 5})
    fig = loss_figure(table)
    assert "all 4 networks diverged (at epochs 3, 3, 4, 5)" in texts(fig)
    assert legend_title(fig) == "mean and 95% CI of 0 of 4 seeds; 4 diverged"
    assert "all 4 networks diverged" in texts(dead_figure(table))
    # the sweep's figures too
    metrics = table.assign(run_dir="r0")
    runs = _runs_from(metrics)
    assert "every network diverged" in texts(curves_figure(metrics, runs, ["optimizer.lr"], "loss"))
    two_alphas = pd.concat([runs, runs.assign(alpha=0.3, run_dir="r1")], ignore_index=True)
    assert "every network diverged" in texts(final_vs_alpha_figure(two_alphas, ["alpha"]))


def _runs_from(metrics: pd.DataFrame) -> pd.DataFrame:
    """A runs table (one row per network) from a hand-made metrics table."""
    last = metrics.groupby(["run_dir", "seed"]).tail(1).reset_index(drop=True)
    runs = last.drop(columns=["epoch", "train_loss", "val_loss", "dead_frac", "dead_frac_l1", "dead_frac_l2"])
    runs["status"] = np.where(last["diverged"], "diverged", "ok")
    runs["final_val_loss"] = last["val_loss"].where(~last["diverged"])
    runs["final_dead_frac"] = last["dead_frac"].where(~last["diverged"])
    return runs.drop(columns="diverged")


# ------------------------------------------------------------------ divergence marked and counted
def test_legends_count_the_networks_drawn():
    table = run_table(diverged={1: 2, 3: 6})
    fig = loss_figure(table)
    assert legend_title(fig) == "mean and 95% CI of 2 of 4 seeds; 2 diverged"
    ax = fig.axes[0]
    crosses = [line for line in ax.lines if line.get_marker() == "x"]
    assert len(crosses) == 2  # each diverged network ends in an x
    labels = ax.get_legend_handles_labels()[1]
    assert "diverged networks: validation loss" in labels
    assert dead_figure(table).legends[0].get_title().get_text().startswith(
        "mean and 95% CI of 2 of 4 seeds; 2 diverged")
    assert legend_title(loss_figure(run_table())) == "mean and 95% CI over 4 seeds"
    # sweep curves: the arm's legend entry counts them, an x on the epoch axis marks each
    metrics = pd.concat([table.assign(run_dir="a"), run_table().assign(run_dir="b", **{"optimizer.lr": 0.1})],
                        ignore_index=True)
    fig = curves_figure(metrics, _runs_from(metrics), ["optimizer.lr"], "loss")
    labels = fig.axes[1].get_legend_handles_labels()[1]
    assert "optimizer.lr=0.5 (2 of 4 networks; 2 diverged)" in labels and "optimizer.lr=0.1 (4 networks)" in labels
    assert sum(line.get_marker() == "x" for line in fig.axes[0].lines) == 1  # one x-series, two points
    assert len(next(line for line in fig.axes[0].lines if line.get_marker() == "x").get_xdata()) == 2


# ------------------------------------------------------------------ scales, gaps, titles
def test_loss_axis_is_logarithmic_past_three_decades():
    assert loss_scale([1.0, 2e-3]) == "linear" and loss_scale([1.0, 9e-4]) == "log"
    assert loss_scale([1.0, 1e-6, np.nan, np.inf]) == "log" and loss_scale([1.0, 0.0, 1e-6]) == "linear"
    steep = run_table(losses=lambda s, e: 10.0 ** (-e / 2))  # 1 down to 1e-5
    gentle = run_table(losses=lambda s, e: 1.0 / (1 + e))
    assert loss_figure(steep).axes[0].get_yscale() == "log"
    assert loss_figure(gentle).axes[0].get_yscale() == "linear"
    metrics = steep.assign(run_dir="a")
    assert curves_figure(metrics, _runs_from(metrics), [], "loss").axes[0].get_yscale() == "log"


def _solid_and_dotted(ax):
    """The lines of ``ax`` as (finite x, y) points, split into solid and dotted ones."""
    solid, dotted = [], []
    for line in ax.lines:
        x, y = np.asarray(line.get_xdata(), float), np.asarray(line.get_ydata(), float)
        ok = np.isfinite(x)
        (dotted if line.get_linestyle() == ":" else solid).append((x[ok], y[ok], x))
    return solid, dotted


def test_unprobed_epochs_are_gaps_never_zeros():
    """Probed at 0, 5, 10 and the last epoch, 12: the measured values are drawn
    as they are (never zeros), as points with error bars and no line across the
    epochs between probes, in the run's figure and the sweep's alike; the run's
    figure says when the probe measured."""
    table = run_table(epochs=12, probe_every=5)
    sweep = curves_figure(table.assign(run_dir="a"), _runs_from(table.assign(run_dir="a")), [], "dead")
    for fig in (dead_figure(table), sweep):
        ax = fig.axes[0]
        assert all(line.get_linestyle() in ("None", "none", " ", "") for line in ax.lines
                   if len(line.get_xdata()) > 1)
        points = [line for line in ax.lines if line.get_marker() == "o"]
        assert [list(line.get_xdata()) for line in points] == [[0, 5, 10, 12]]
        assert (np.asarray(points[0].get_ydata()) > 0).all()
        assert not ax.collections or all(np.ptp(p.vertices[:, 0]) == 0 for c in ax.collections
                                         for p in c.get_paths())  # error bars, never a band across epochs
    assert "measured at epochs 0, 5, 10, 12" in dead_figure(table).legends[0].get_title().get_text().replace("\n", " ")


def test_every_epoch_probed_gives_plain_lines_and_no_note():
    ax = dead_figure(run_table(epochs=6, probe_every=1)).axes[0]
    solid, dotted = _solid_and_dotted(ax)
    assert not dotted and all(list(x) == list(range(7)) for x, _, _ in solid)
    assert ax.get_xlabel() == "epoch"


def test_run_titles_name_model_and_init():
    title = loss_figure(run_table())._suptitle.get_text().replace("\n", " ")
    for part in ("activation=leaky (alpha=0.1)", "dataset=moons", "model=deep (8x16 hidden)", "init=negative_bias",
                 "optimizer=sgd", "lr=0.5", "4 seeds"):
        assert part in title, (part, title)


# ------------------------------------------------------------------ unit health: every epoch, named by the registry
def health_table(activation="leaky", epochs=20, depth=2, n_seeds=3, low=True):
    """Epoch statistics at every epoch, the exact probe at {0, last} (the default schedule)."""
    rows = []
    for seed in range(n_seeds):
        for epoch in range(epochs + 1):
            v = (0.03 + 0.0015 * epoch + 0.002 * seed) if low else (0.2 + 0.03 * epoch)
            probed = epoch in (0, epochs)
            row = {"seed": seed, "epoch": epoch, "diverged": False, "train_loss": 1.0 / (1 + epoch),
                   "val_loss": 1.1 / (1 + epoch)}
            for suffix in [""] + [f"_l{i}" for i in range(1, depth + 1)]:
                row["epoch_never_positive_frac" + suffix] = v
                row["epoch_dormant_frac" + suffix] = v / 2
                for probe, value in (("dead_frac", v), ("zero_grad_frac", v if activation == "relu" else 0.0),
                                     ("dormant_frac", v / 2), ("low_contribution_frac", v / 3)):
                    row[probe + suffix] = value if probed else np.nan
            rows.append(row)
    return pd.DataFrame(rows).assign(**{"activation.name": activation, "alpha": 0.01, "dataset.name": "moons",
                                        "model.name": "mlp", "model.depth": depth, "model.width": 8})


def _labels(fig) -> list[str]:
    return [t.get_text() for legend in fig.legends for t in legend.get_texts()]


def test_default_run_draws_unit_health_at_every_epoch_with_the_probe_as_points():
    """``python -m relu_study activation=leaky alpha=0.01``: a curve over every
    epoch from the epoch statistics, the exact probes at epochs 0 and 20 as
    marked points with error bars, labels from the registry."""
    from relu_study.engine.metrics import METRICS

    fig = dead_figure(health_table())
    ax = fig.axes[0]
    curves = [line for line in ax.lines if len(line.get_xdata()) == 21]
    assert curves and list(curves[0].get_xdata()) == list(range(21))
    points = [line for line in ax.lines if line.get_marker() == "o"]
    assert [list(p.get_xdata()) for p in points] == [[0, 20]]
    assert ax.containers and ax.containers[0].has_yerr  # the probes keep their interval (3 seeds)
    labels = _labels(fig)
    assert "stuck negative during the epoch (every epoch)" in labels and "stuck negative (exact probe)" in labels
    assert METRICS["dormant_frac"].label in " ".join(a.get_title() for a in fig.axes)


def test_slope_activations_are_never_called_dead_relu_is():
    leaky = dead_figure(health_table("leaky"))
    words = " ".join([leaky._suptitle.get_text(), *_labels(leaky), *(a.get_title() for a in leaky.axes)]).lower()
    assert "dead" not in words and "stuck negative" in words
    relu = dead_figure(health_table("relu"))
    assert relu._suptitle.get_text().startswith("Dead units")
    titles = [a.get_title() for a in relu.axes if a.get_visible()]
    assert titles[:2] == ["never-positive units", "zero-gradient units"]


def test_a_small_fraction_gets_an_axis_fitted_to_it_and_says_so():
    """Values of 0.03-0.08 fill the axis rather than hug the floor of 0-1; values
    that reach past a quarter keep the 0-1 axis, unmarked."""
    ax = dead_figure(health_table(low=True)).axes[0]
    lo, hi = ax.get_ylim()
    assert hi < 0.15 and "axis fitted to the data" in ax.get_ylabel()
    ax = dead_figure(health_table(low=False)).axes[0]
    assert ax.get_ylim()[1] > 1 and "fitted" not in ax.get_ylabel()


def test_plots_metrics_chooses_the_panels_by_registry_name():
    from relu_study.runs.config import ConfigError, default_config, validate
    from relu_study.runs.plots import health_chart

    chart = health_chart(health_table(), ["dormant_frac", "low_contribution_frac_l2"])
    assert [p.title for p in chart.panels[:2]] == ["dormant units", "low-contribution units, layer 2"]
    assert chart.panels[0].series[0].name == "dormant during the epoch (every epoch)"
    validate(default_config(**{"plots.metrics": ["dead_frac", "epoch_dormant_frac_l1"]}))
    for bad in (["bogus"], ["train_loss"], "dead_frac", []):
        with pytest.raises(ConfigError, match="plots.metrics"):
            validate(default_config(**{"plots.metrics": bad}))


def test_a_deep_network_keeps_one_legend_outside_the_axes():
    """depth 30: no legend entry per layer (colours would repeat), one legend below
    the panels, the per-layer view a panel of its own over the layer axis."""
    fig = dead_figure(health_table(depth=30, epochs=5))
    assert all(ax.get_legend() is None for ax in fig.axes) and len(fig.legends) == 1
    assert len(_labels(fig)) <= 10
    last = [ax for ax in fig.axes if ax.get_visible()][-1]
    assert last.get_xlabel().startswith("hidden layer") and len(last.lines[0].get_xdata()) == 30
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    renderer = FigureCanvasAgg(fig).get_renderer()
    fig.draw(renderer)
    legend = fig.legends[0].get_window_extent(renderer)
    for ax in fig.axes:
        if ax.get_visible():
            assert not legend.overlaps(ax.get_window_extent(renderer))
    assert fig.bbox.contains(legend.x0, legend.y0) and fig.bbox.contains(legend.x1, legend.y1)


# ------------------------------------------------------------------ the heatmap's layout
def test_heatmap_colour_bars_sit_beside_their_panels_and_the_title_fits():
    rows = []
    for act in ("relu", "leaky"):
        for alpha in (0.01, 0.1, 0.3):
            for lr in (0.01, 0.1, 1.0):
                for seed in range(2):
                    rows.append({"activation.name": act, "alpha": 0.0 if act == "relu" else alpha, "optimizer.lr": lr,
                                 "seed": seed, "run_dir": f"{act}{alpha}{lr}", "status": "ok",
                                 "final_val_loss": 0.3 + lr + alpha, "final_dead_frac": 0.2 * lr,
                                 "dataset.name": "moons", "max_epochs": 30})
    runs = pd.DataFrame(rows)
    fig = heatmap_figure(runs, ["activation.name", "alpha", "optimizer.lr"])
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    renderer = FigureCanvasAgg(fig).get_renderer()
    fig.draw(renderer)
    bars = [ax for ax in fig.axes if hasattr(ax, "_colorbar")]
    panels = [ax for ax in fig.axes if ax.get_visible() and not hasattr(ax, "_colorbar")]
    assert len(panels) == 4 and len(bars) == 4
    for panel in panels:  # its own bar: just right of it, at the same height
        box = panel.get_position()
        right = [b.get_position() for b in bars if 0 <= b.get_position().x0 - box.x1 < 0.06]
        assert len(right) == 1 and abs(right[0].y0 - box.y0) < 0.1, (box, [b.get_position() for b in bars])
    title = fig._suptitle.get_window_extent(renderer)
    page = fig.bbox
    assert title.x0 >= page.x0 and title.x1 <= page.x1 and title.y1 <= page.y1


def test_figures_leave_pyplot_and_the_backend_alone(tmp_path):
    code = ("import sys, matplotlib; before = matplotlib.get_backend(); "
            "sys.path.insert(0, sys.argv[2]); from test_plots import run_table; "
            "from relu_study.runs.plots import plot_run; plot_run(run_table(), sys.argv[1]); "
            "print('matplotlib.pyplot' in sys.modules, matplotlib.get_backend() == before)")
    tests = str(__import__("pathlib").Path(__file__).parent)
    out = subprocess.run([sys.executable, "-c", code, str(tmp_path), tests], capture_output=True, text=True,
                         timeout=120, env={"MPLBACKEND": "pdf", "PATH": "/usr/bin:/bin"})
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["False", "True"]
    assert (tmp_path / "loss.png").is_file() and (tmp_path / "dead.png").is_file()


if __name__ == "__main__":  # pragma: no cover
    pytest.main([__file__])
