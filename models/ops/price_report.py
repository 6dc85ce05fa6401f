"""The price report: the price-conflict heat map, the elasticities with their intervals, the
suggestions and the channel–product matrix flags, as PNGs and one HTML page
(``exports/reports/price/index.html``, written with ``models.reports``)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl

from models.ops.price import conflict_episodes
from models.reports import Section, pyplot, save_figure, write_html_report

HEATMAP_ROWS = 30


def conflict_heatmap(conflicts: pl.DataFrame, path: Path) -> Path:
    """SKU × channel (the rows with the most new-conflict days, at most HEATMAP_ROWS) by day:
    the deepest gap below the reference of a new conflict in red, approved conflicts grey."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(11, 7))
    if conflicts.is_empty():
        ax.text(0.5, 0.5, "no price conflicts", ha="center", va="center")
        ax.set_axis_off()
    else:
        c = conflicts.with_columns(
            (pl.col("sku") + " @ " + pl.col("channel")).alias("row"),
            (-pl.col("gap_pct")).alias("depth"),
        )
        rank = (
            c.group_by("row")
            .agg(pl.col("is_new").sum().alias("new_days"), pl.col("depth").max().alias("worst"))
            .sort(["new_days", "worst", "row"], descending=[True, True, False])
            .head(HEATMAP_ROWS)
        )
        rows = rank["row"].to_list()
        d0, d1 = conflicts["price_date"].min(), conflicts["price_date"].max()
        ndays = (d1 - d0).days + 1
        new = np.full((len(rows), ndays), np.nan)
        approved = np.full((len(rows), ndays), np.nan)
        idx = {r: i for i, r in enumerate(rows)}
        cells = (
            c.filter(pl.col("row").is_in(rows))
            .group_by("row", "price_date", "is_new")
            .agg(pl.col("depth").max())
        )
        for row, day, is_new, depth in cells.iter_rows():
            target = new if is_new else approved
            j = (day - d0).days
            target[idx[row], j] = np.fmax(target[idx[row], j], depth)
        approved[~np.isnan(new)] = np.nan
        ax.imshow(np.where(np.isnan(approved), np.nan, 1.0), aspect="auto", cmap="Greys",
                  vmin=0, vmax=3, interpolation="nearest")  # fmt: skip
        im = ax.imshow(new, aspect="auto", cmap="Reds", vmin=0,
                       vmax=max(10.0, float(np.nanmax(new)) if np.isfinite(new).any() else 10.0),
                       interpolation="nearest")  # fmt: skip
        fig.colorbar(im, ax=ax, label="new conflict: % below the reference (grey: approved)")
        ax.set_yticks(range(len(rows)), rows, fontsize=7)
        ticks = np.linspace(0, ndays - 1, min(ndays, 10)).astype(int)
        import datetime as dt

        ax.set_xticks(ticks, [(d0 + dt.timedelta(days=int(t))).isoformat() for t in ticks],
                      rotation=45, ha="right", fontsize=7)  # fmt: skip
        ax.set_title(f"Price conflicts by SKU × channel and day (top {len(rows)} by new days)")
    save_figure(fig, path, dpi=90)
    return path


def elasticity_plot(elastic: pl.DataFrame, path: Path, top: int = 30) -> Path:
    """The estimated elasticities with their confidence intervals (narrowest first)."""
    plt = pyplot()
    est = (
        elastic.filter(pl.col("status") == "estimated")
        .with_columns((pl.col("ci_high") - pl.col("ci_low")).alias("width"))
        .sort("width")
        .head(top)
    )
    fig, ax = plt.subplots(figsize=(8, max(3, 0.25 * est.height + 1)))
    if est.is_empty():
        ax.text(0.5, 0.5, "no SKU × channel with enough price history", ha="center")
        ax.set_axis_off()
    else:
        y = np.arange(est.height)
        b = est["elasticity"].to_numpy()
        ax.errorbar(b, y, xerr=[b - est["ci_low"].to_numpy(), est["ci_high"].to_numpy() - b],
                    fmt="o", capsize=2)  # fmt: skip
        ax.axvline(0, color="grey", lw=0.8)
        ax.axvline(-1, color="grey", lw=0.8, ls="--")
        ax.set_yticks(y, (est["sku"] + " @ " + est["channel"]).to_list(), fontsize=7)
        ax.set_xlabel("elasticity (log-log), with its confidence interval")
    save_figure(fig, path, dpi=90)
    return path


def write_price_report(
    folder: Path,
    conflicts: pl.DataFrame,
    elastic: pl.DataFrame,
    suggestions: pl.DataFrame,
    matrix: pl.DataFrame,
    policy_path: Path,
) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    conflict_heatmap(conflicts, folder / "price_conflicts_heatmap.png")
    elasticity_plot(elastic, folder / "price_elasticity.png")
    episodes = conflict_episodes(conflicts)
    by_rule = (
        conflicts.group_by("rule", "channel")
        .agg(
            pl.len().alias("sku_days"),
            pl.col("is_new").sum().alias("new"),
            pl.col("approved").sum().alias("approved"),
            pl.col("gap_pct").min().alias("worst_gap_pct"),
        )
        .sort("rule", "channel")
    )
    status = elastic.group_by("status").agg(pl.len().alias("sku_channels")).sort("status")
    reasons = (
        elastic.filter(pl.col("reason").is_not_null())
        .with_columns(pl.col("reason").str.replace(r"\d+(\.\d+)?", "N").alias("reason"))
        .group_by("reason")
        .agg(pl.len().alias("sku_channels"))
        .sort("sku_channels", descending=True)
    )
    moves = suggestions.filter(pl.col("change_pct").abs() > 0).sort("change_pct")
    flags = matrix.select(
        pl.col("listed").sum().alias("listed"),
        pl.col("channel_exclusive").sum().alias("channel_exclusive"),
        pl.col("listed_never_sold").sum().alias("listed_never_sold"),
        pl.col("absent_but_sells_on_similar").sum().alias("absent_but_sells_on_similar"),
    )
    sections = [
        Section(
            "Price conflicts",
            [
                f"Every SKU × channel × day whose posted price breaks the policy ({policy_path.name}"
                f"): {conflicts.height} rows, {int(conflicts['is_new'].sum())} new (not covered "
                "by an approved promotion). Red: new conflicts, the deeper the further below the "
                "reference; grey: conflicts an approved promotion covers.",
            ],
            ["price_conflicts_heatmap.png"],
            [by_rule, episodes.head(25)],
        ),
        Section(
            "Price elasticity",
            [
                "Log-log model per SKU × channel (Poisson pseudo-likelihood; controls: day of "
                "week, trend, retail-event windows, channel traffic) with robust confidence "
                "intervals; where the history is too thin the table says why instead of a "
                "number. Dashed line: elasticity −1.",
            ],
            ["price_elasticity.png"],
            [status, reasons, elastic.filter(pl.col("status") == "estimated").head(40)],
        ),
        Section(
            "Price suggestions",
            [
                f"{moves.height} of {suggestions.height} SKU × channel prices would move; every "
                "suggestion stays between its floor (MAP, ladder) and cap (list price, ladder).",
            ],
            tables=[moves.head(40)],
        ),
        Section(
            "Products by channel",
            [
                "Flags of the channel–product matrix (table ops.channel_product_matrix); below, "
                "SKUs not listed on a channel while they sell on a similar one.",
            ],
            tables=[
                flags,
                matrix.filter(pl.col("absent_but_sells_on_similar"))
                .select("sku", "channel", "category", "similar_channels_selling")
                .head(40),
            ],
        ),
    ]
    return write_html_report(
        folder / "index.html",
        "Price and products by channel",
        "Price conflicts against the price policy, price elasticities and suggestions, and the "
        "channel–product matrix.",
        sections,
    )
