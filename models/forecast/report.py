"""The backtest report for planners: PNG plots and one HTML page.

- ``accuracy_by_model.png``: overall WAPE, MASE and P10-P90 coverage per model;
- ``wape_by_fold.png``: WAPE per fold and model (is the model stable over time?);
- ``top_series.png``: actuals against the chosen model's P50 and P10-P90 band for the
  series with the most units, over every backtest fold;
- ``report.html``: the plan (horizon, folds, and why they were adapted), the comparison table,
  the slices, and the plots.
"""

from __future__ import annotations

import html
from pathlib import Path

import polars as pl

from models.forecast.backtest import BacktestResult, comparison
from models.reports import html_table, pyplot, save_figure


def plot_accuracy(metrics: pl.DataFrame, path: Path) -> Path:
    plt = pyplot()
    table = comparison(metrics)
    names = table["model"].to_list()
    shown = [m for m in ("wape", "mase", "coverage_p10_p90") if m in table.columns]
    fig, axes = plt.subplots(1, len(shown), figsize=(4 * len(shown), 3.2))
    axes = [axes] if len(shown) == 1 else axes
    for ax, metric in zip(axes, shown, strict=True):
        vals = table[metric].fill_null(float("nan")).to_list()
        ax.barh(names, vals, color="#4a7")
        ax.set_title(metric)
        if metric == "coverage_p10_p90":
            ax.axvline(0.8, color="k", lw=0.8, ls="--")
    save_figure(fig, path, dpi=90)
    return path


def plot_by_fold(metrics: pl.DataFrame, path: Path) -> Path:
    plt = pyplot()
    part = metrics.filter(
        (pl.col("slice") == "all") & (pl.col("metric") == "wape") & (pl.col("fold") != "all")
    ).with_columns(pl.col("fold").cast(pl.Int32))
    fig, ax = plt.subplots(figsize=(6, 3.2))
    for (model,), rows in part.sort("fold").group_by("model", maintain_order=True):
        ax.plot(rows["fold"], rows["value"], marker="o", label=model)
    ax.set_xlabel("fold (later = more recent)")
    ax.set_ylabel("WAPE")
    ax.legend(fontsize=7)
    save_figure(fig, path, dpi=90)
    return path


def plot_top_series(forecasts: pl.DataFrame, model: str, path: Path, n: int = 6) -> Path:
    plt = pyplot()
    top = (
        forecasts.group_by("unique_id")
        .agg(pl.col("y").sum())
        .sort(["y", "unique_id"], descending=[True, False])
        .head(n)["unique_id"]
        .to_list()
    )
    fig, axes = plt.subplots(len(top) or 1, 1, figsize=(8, 1.8 * max(len(top), 1)), sharex=True)
    axes = axes if len(top) > 1 else [axes]
    for ax, uid in zip(axes, top, strict=False):
        rows = forecasts.filter(pl.col("unique_id") == uid).sort("ds")
        ds = rows["ds"].to_list()
        if f"{model}_p10" in rows.columns:
            ax.fill_between(
                ds, rows[f"{model}_p10"], rows[f"{model}_p90"], alpha=0.3, label="P10-P90"
            )
        ax.plot(ds, rows[f"{model}_p50"], label=f"{model} P50")
        ax.plot(ds, rows["y"], "k.", ms=3, label="actual")
        ax.set_title(str(uid), fontsize=8)
    axes[0].legend(fontsize=7, loc="upper left")
    save_figure(fig, path, dpi=90)
    return path


def write_report(result: BacktestResult, chosen: str, out_dir: Path, title: str) -> dict:
    """Plots, the metrics as CSV and ``report.html`` in ``out_dir``; the paths written."""
    out_dir.mkdir(parents=True, exist_ok=True)
    files = {
        "accuracy_png": plot_accuracy(result.metrics, out_dir / "accuracy_by_model.png"),
        "folds_png": plot_by_fold(result.metrics, out_dir / "wape_by_fold.png"),
        "top_series_png": plot_top_series(result.forecasts, chosen, out_dir / "top_series.png"),
    }
    metrics_csv = out_dir / "backtest_metrics.csv"
    result.metrics.write_csv(metrics_csv)
    files["metrics_csv"] = metrics_csv
    table = comparison(result.metrics)
    slices = (
        result.metrics.filter(
            (pl.col("fold") == "all")
            & (pl.col("slice") != "all")
            & pl.col("metric").is_in(["wape", "coverage_p10_p90", "bias"])
        )
        .pivot(on="metric", index=["slice", "model"], values="value")
        .sort("slice", "model")
    )

    by_fold = (
        result.metrics.filter(
            (pl.col("slice") == "all")
            & pl.col("metric").is_in(["coverage_p10_p90", "interval_score", "wape"])
            & pl.col("model").is_in([m for m in result.models if m.startswith("hgb_")])
        )
        .pivot(on="fold", index=["model", "metric"], values="value")
        .sort("metric", "model")
    )

    plan = result.plan
    notes = "".join(f"<li>{html.escape(n)}</li>" for n in plan.notes) or "<li>none</li>"
    page = f"""<!doctype html><html><head><meta charset="utf-8"><title>{html.escape(title)}</title>
</head><body><h1>{html.escape(title)}</h1>
<p>Rolling-origin backtest: {plan.folds} folds, horizon {plan.horizon} periods; cutoffs
{", ".join(str(c) for c in result.forecasts["cutoff"].unique().sort().to_list())}.
Chosen interval method: <b>{html.escape(chosen)}</b> (among those whose P10-P90 coverage is
within 70-90 %, the lowest interval score; else the coverage nearest 80 %).
Only observed periods are scored: stock-out (censored) days have no true demand to score.</p>
<p>Adaptations:</p><ul>{notes}</ul>
<h2>Overall</h2>{html_table(table)}
<p>WAPE = sum|y - P50| / sum y; bias = sum(P50 - y) / sum y; MASE against the seasonal
difference of each series' history; coverage = share of actuals within P10-P90 (nominal
0.8); pinball = mean P10/P50/P90 quantile loss, scaled like WAPE; interval score =
mean (P90 - P10) + 10 x the distance of a miss, over the mean actual (lower is better).</p>
<h2>Per fold (global model)</h2>{html_table(by_fold)}
<img src="accuracy_by_model.png"><img src="wape_by_fold.png">
<h2>Top series</h2><img src="top_series.png">
<h2>By slice</h2>{html_table(slices) if slices.height else "<p>no slices</p>"}
</body></html>"""
    report = out_dir / "report.html"
    report.write_text(page, encoding="utf-8")
    files["report_html"] = report
    return {k: str(v) for k, v in files.items()}
