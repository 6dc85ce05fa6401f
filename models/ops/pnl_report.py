"""Pictures and HTML pages of the channel P&L and the order routing:
``exports/reports/pnl/`` (waterfall per channel, live sessions) and ``exports/reports/routing/``."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from models.ops.pnl import COMPONENTS
from models.reports import Section, pyplot, save_figure, write_html_report

STEPS = ("discounts", "returns", "cogs", *COMPONENTS)


def waterfall_png(pnl: pl.DataFrame, path: Path) -> Path:
    """One waterfall per channel over the whole window: gross sales, each deduction, and the
    contribution, in CNY (a small multiple; bars below zero show a loss)."""
    plt = pyplot()
    tot = (
        pnl.group_by("channel")
        .agg(pl.col("gross_sales", *STEPS, "contribution").sum())
        .sort("gross_sales", descending=True)
    )
    n = max(tot.height, 1)
    cols = min(3, n)
    rows = (n + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(5.2 * cols, 3.6 * rows), squeeze=False)
    labels = ["gross", *STEPS, "contrib."]
    for ax, r in zip(axes.flat, tot.iter_rows(named=True), strict=False):
        level = float(r["gross_sales"])
        bottoms, heights, colors = [0.0], [level], ["#4c72b0"]
        for s in STEPS:
            v = float(r[s])
            level -= v
            bottoms.append(level)
            heights.append(v)
            colors.append("#c44e52")
        bottoms.append(0.0)
        heights.append(float(r["contribution"]))
        colors.append("#55a868" if r["contribution"] >= 0 else "#8c1c13")
        ax.bar(range(len(labels)), heights, bottom=bottoms, color=colors)
        ax.axhline(0, color="black", linewidth=0.6)
        ax.set_xticks(range(len(labels)), labels, rotation=60, ha="right", fontsize=7)
        margin = r["contribution"] / r["gross_sales"] if r["gross_sales"] else 0
        ax.set_title(f"{r['channel']}: contribution {margin:.0%} of gross", fontsize=9)
        ax.tick_params(axis="y", labelsize=7)
    for ax in list(axes.flat)[tot.height :]:
        ax.axis("off")
    fig.suptitle("Channel P&L waterfall (CNY, whole window)", fontsize=11)
    save_figure(fig, path, dpi=110)
    return path


def sessions_png(sessions: pl.DataFrame, path: Path) -> Path:
    """Live sessions: GMV against contribution; the sessions losing money in red."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6.5, 4.2))
    neg = sessions.filter(pl.col("contribution") < 0)
    pos = sessions.filter(pl.col("contribution") >= 0)
    ax.scatter(
        pos["gross_sales"], pos["contribution"], s=12, color="#4c72b0", label="contribution ≥ 0"
    )
    ax.scatter(
        neg["gross_sales"], neg["contribution"], s=24, color="#c44e52", label="contribution < 0"
    )
    ax.axhline(0, color="black", linewidth=0.6)
    ax.set_xlabel("GMV (gross sales, CNY)")
    ax.set_ylabel("contribution (CNY)")
    ax.set_title("Douyin live sessions (host × day)")
    ax.legend(fontsize=8)
    save_figure(fig, path, dpi=110)
    return path


def write_pnl_report(
    folder: Path, pnl: pl.DataFrame, sessions: pl.DataFrame, notes: list[str]
) -> Path:
    waterfall_png(pnl, folder / "channel_pnl_waterfall.png")
    sessions_png(sessions, folder / "live_sessions.png")
    by_channel = (
        pnl.group_by("channel")
        .agg(pl.col("orders", "units", "gross_sales", *STEPS, "net_sales", "contribution").sum())
        .with_columns(
            (pl.col("contribution") / pl.col("net_sales")).round(4).alias("contribution_margin")
        )
        .sort("gross_sales", descending=True)
    )
    show = ["session_date", "host_id", "host_name", "contribution_rank", "gmv_rank", "orders",
            "gross_sales", "discounts", "returns", "net_sales", "host_commission", "contribution",
            "return_rate", "discount_rate"]  # fmt: skip
    sections = [
        Section(
            "Channel P&L over the window",
            paragraphs=notes,
            images=["channel_pnl_waterfall.png"],
            tables=[by_channel],
        ),
        Section("Per channel and month", tables=[pnl.sort("month", "channel")]),
        Section(
            "Douyin live sessions ranked by contribution (not GMV)",
            paragraphs=[
                f"{sessions.height} sessions (host × day); "
                f"{int((sessions['contribution'] < 0).sum())} with negative contribution."
            ],
            images=["live_sessions.png"],
            tables=[sessions.select(show).head(15), sessions.select(show).tail(10)],
        ),
    ]
    return write_html_report(
        folder / "channel_pnl.html",
        "Channel P&L",
        "Contribution per channel, month and live session, in CNY.",
        sections,
    )


def write_routing_report(
    folder: Path, routing: pl.DataFrame, figures: dict, notes: list[str]
) -> Path:
    plt = pyplot()
    cmp_ = routing.filter(pl.col("km_saved").is_not_null())
    fig, ax = plt.subplots(figsize=(6.5, 4.0))
    if cmp_.height:
        ax.hist(cmp_["km_saved"].to_numpy(), bins=30, color="#4c72b0")
    ax.set_xlabel("km saved per order (actual node − proposed node)")
    ax.set_ylabel("orders")
    ax.set_title("Routing vs the node that shipped")
    save_figure(fig, folder / "km_saved.png", dpi=110)
    fig_table = pl.DataFrame({"figure": list(figures), "value": [str(v) for v in figures.values()]})
    per_channel = (
        routing.group_by("channel", "routed_as")
        .agg(
            pl.len().alias("orders"),
            pl.col("is_split").mean().round(4).alias("split_rate"),
            pl.col("proposed_km").mean().round(1).alias("mean_km_proposed"),
            pl.col("actual_km").mean().round(1).alias("mean_km_actual"),
            pl.col("km_saved").sum().round(0).alias("km_saved"),
        )
        .sort("channel", "routed_as")
    )
    by_node = (
        routing.filter(pl.col("proposed_nodes").is_not_null())
        .group_by("proposed_nodes", "actual_location_id")
        .len()
        .sort("len", descending=True)
        .head(20)
    )
    cols = ["routed_as", "channel", "order_id", "order_date", "delivery_city", "location_source", "mode", "proposed_nodes",
            "proposed_km", "alternative_node", "alternative_km", "actual_location_id", "actual_km", "reason"]  # fmt: skip
    sections = [
        Section("Figures", paragraphs=notes, images=["km_saved.png"], tables=[fig_table]),
        Section("Per channel", tables=[per_channel]),
        Section("Proposed against actual node", tables=[by_node]),
        Section(
            "Open orders (first 30)",
            tables=[routing.filter(pl.col("routed_as") == "open").select(cols).head(30)],
        ),
        Section(
            "Split proposals (first 30)",
            tables=[routing.filter(pl.col("is_split")).select(cols).head(30)],
        ),
    ]
    return write_html_report(
        folder / "order_routing.html",
        "Order routing",
        "Proposed fulfilment node per order, with reason and alternative.",
        sections,
    )
