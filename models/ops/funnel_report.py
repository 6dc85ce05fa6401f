"""Plots and HTML pages of the funnel (``reports/funnel/``) and of the omnichannel uplift
(``reports/uplift/``), written with :mod:`models.reports`."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from models.ops.funnel import ALL, STEPS
from models.reports import Section, pyplot, save_figure, write_html_report


def retention_curves(cohorts: pl.DataFrame) -> pl.DataFrame:
    """Per acquisition channel × month k: the share of customers buying in month k over the
    cohorts whose month k is complete (customer-weighted), and how many customers that is."""
    done = cohorts.filter(pl.col("is_complete"))
    return (
        done.group_by("acquisition_channel", "month_k")
        .agg(
            pl.col("cohort_customers").sum().alias("customers"),
            pl.col("active_customers").sum().alias("active"),
            pl.col("cohort_month").n_unique().alias("cohorts"),
        )
        .with_columns((pl.col("active") / pl.col("customers")).alias("share"))
        .sort("acquisition_channel", "month_k")
    )


def plot_funnel(table: pl.DataFrame, path: Path) -> Path:
    plt = pyplot()
    channels = [c for c in table["acquisition_channel"].unique(maintain_order=True)]
    fig, ax = plt.subplots(figsize=(10, 0.45 * max(len(channels), 4) + 1.5))
    height = 0.8 / len(STEPS)
    for i, step in enumerate(STEPS):
        part = table.filter(pl.col("step") == step)
        shares = dict(zip(part["acquisition_channel"], part["conversion_from_first"], strict=True))
        ax.barh(
            [k + i * height for k in range(len(channels))],
            [shares.get(c) or 0.0 for c in channels],
            height=height,
            label=step,
        )
    ax.set_yticks([k + height for k in range(len(channels))], channels)
    ax.invert_yaxis()
    ax.set_xlabel(f"share of first purchasers (window {table['window_days'][0]} days)")
    ax.set_title("Public → private → repeat, by acquisition channel")
    ax.legend(loc="lower right")
    save_figure(fig, path, dpi=90)
    return path


def plot_retention(curves: pl.DataFrame, path: Path) -> Path:
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(9, 5))
    for (channel,), part in curves.filter(pl.col("month_k") > 0).group_by(
        "acquisition_channel", maintain_order=True
    ):
        ax.plot(part["month_k"], part["share"], marker="o", label=str(channel))
    ax.xaxis.get_major_locator().set_params(integer=True)
    ax.set_xlabel("months since the first purchase (complete months only)")
    ax.set_ylabel("share of the cohort buying in the month")
    ax.set_title("Cohort retention by acquisition channel")
    ax.legend(fontsize=8)
    save_figure(fig, path, dpi=90)
    return path


def plot_uplift(estimates: pl.DataFrame, path: Path) -> Path:
    plt = pyplot()
    rows = estimates.filter(pl.col("relative").is_not_null())
    fig, ax = plt.subplots(figsize=(9, 0.4 * max(rows.height, 4) + 1.5))
    labels = [f"{r['metric']} · {r['design']}" for r in rows.iter_rows(named=True)]
    y = list(range(rows.height))
    rel = rows["relative"].to_list()
    lo = [
        0.0 if v is None else max(r - v, 0.0)
        for r, v in zip(rel, rows["relative_low"], strict=True)
    ]
    hi = [
        0.0 if v is None else max(v - r, 0.0)
        for r, v in zip(rel, rows["relative_high"], strict=True)
    ]
    ax.errorbar(rel, y, xerr=[lo, hi], fmt="o", capsize=3)
    ax.axvline(0, color="grey", lw=1)
    ax.axvspan(0.15, 0.20, color="orange", alpha=0.2, label="claimed +15–20 % per order")
    ax.set_yticks(y, labels, fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel("multi- vs single-channel: relative difference (95 % bootstrap CI)")
    ax.legend(fontsize=8)
    save_figure(fig, path, dpi=90)
    return path


def write_funnel_report(
    folder: Path, table: pl.DataFrame, hosts: pl.DataFrame, cohorts: pl.DataFrame
) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    curves = retention_curves(cohorts)
    files = [plot_funnel(table, folder / "funnel.png"), plot_retention(curves, folder / "cohort_retention.png")]  # fmt: skip
    window = int(table["window_days"][0]) if table.height else 0
    overall = table.filter(pl.col("acquisition_channel") == ALL)
    wide = table.pivot(on="step", index="acquisition_channel", values="customers")
    heat = (
        cohorts.filter(pl.col("is_complete") & (pl.col("month_k") <= 6))
        .with_columns(pl.col("cohort_month").cast(pl.String))
        .pivot(on="month_k", index=["acquisition_channel", "cohort_month"], values="share")
        .sort("acquisition_channel", "cohort_month")
    )
    sections = [
        Section(
            "Funnel per acquisition channel",
            [
                f"Steps counted within {window} days of the first purchase, on the customers "
                "whose first purchase is at least that long before the last day of data "
                "(the others are right-censored: column censored). A customer already in "
                "the private domain before the first purchase (already_private) never counts "
                "as joining. Days between steps: median and p75 of those who took the step.",
                f"All channels: {wide.filter(pl.col('acquisition_channel') == ALL).rows()}.",
            ],
            ["funnel.png"],
            [table, overall.select("step", "customers", "conversion_from_first")],
        ),
        Section(
            "Live-session sales by host",
            [
                "Real orders credited to a host (anchor_id; 0 is the brand's own live room): "
                "orders, GMV (CNY, before returns), customers acquired by the host and their "
                f"repeat rate on any channel within {window} days (observed customers only)."
            ],
            [],
            [hosts],
        ),
        Section(
            "Cohort retention",
            [
                "Share of each cohort (acquisition channel × first-purchase month) buying in "
                "month k on any channel; the curves pool the cohorts whose month k is complete. "
                "Customers first seen in the data's first month may have bought before it."
            ],
            ["cohort_retention.png"],
            [curves, heat],
        ),
    ]
    files.append(
        write_html_report(
            folder / "index.html",
            "Traffic: public → private → repeat",
            "Funnel, host attribution and cohort retention from marts.ops_customer_journeys "
            "and marts.ops_cohort_retention.",
            sections,
        )
    )
    return files


def write_uplift_report(
    folder: Path,
    estimates: pl.DataFrame,
    balance: pl.DataFrame,
    sentence: str,
    design_text: str,
) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    files = [plot_uplift(estimates, folder / "uplift.png")]
    sections = [
        Section("What the data supports", [sentence, design_text], ["uplift.png"], [estimates]),
        Section(
            "Balance of the matched designs",
            [
                "Largest gap between multi-channel customers and the ATT-weighted single-channel "
                "customers: share gaps on the matching keys (0 by construction of exact "
                "matching) and standardised mean gaps on what the design does not match."
            ],
            [],
            [balance],
        ),
    ]
    files.append(
        write_html_report(
            folder / "index.html",
            "Omnichannel uplift",
            "Single- vs multi-channel customers: retention, annual value and AOV, naive and "
            "matched (models/ops/uplift.py).",
            sections,
        )
    )
    return files
