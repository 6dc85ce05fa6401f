"""From a long table of identifiers to the identity graph: typed nodes, blocked identifiers
with their reason, and the links to make.

Input (one row per identifier seen on a record)::

    record            str    the record's key (e.g. "pos|orders|ST-BJ-01 BJ0120241103001")
    identifier_type   str    a type of ingest.identifiers.IDENTIFIER_TYPES (or an alias)
    identifier_value  str    normalised by ingest.identifiers (this module never re-normalises)
    scope             str?   where a scoped id is valid (a store, a mini-program)
    is_partial        bool?  the normaliser's flag (masked phone, blurred nick)
    seen_at           datetime?  when the record happened (for first/last seen)

The graph is bipartite: a record is linked to each identifier it carries, so the identifiers
of one record end up together unless a limit refuses it; an openid and the unionid it rolls
up to are also linked directly, and those links come first. Partial identifiers never link
(they stay on the customer as evidence); blocked identifiers link nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from models.identity.rules import STRENGTH_RANK, Rules

# Link tiers, processed in this order
TIER_ROLLUP = -1  # an openid to its unionid
TIER_STRONG = STRENGTH_RANK["strong"]
TIER_WEAK = STRENGTH_RANK["weak"]
TIER_PROBABILISTIC = 2  # record-to-record links from a probabilistic model

SEP = "|"


def node_key(id_type: pl.Expr, scope: pl.Expr, value: pl.Expr) -> pl.Expr:
    """``type|scope|value``: the identity of an identifier (scope empty when not scoped)."""
    return pl.concat_str([id_type, scope.fill_null(""), value], separator=SEP)


@dataclass
class Graph:
    """The identity graph of one run.

    ``identifiers``: one row per usable identifier node (``node`` = index): node_key,
    identifier_type, scope, identifier_value, strength, priority, max_per_person, records,
    first_seen, last_seen. ``records``: one row per record (``node`` = index after the
    identifiers). ``edges``: u, v (node indexes), tier, priority, record (index of the record
    that gave the link). ``blocked``: every blocked identifier with its reason. ``partials``:
    (record, partial identifier) rows, never linked.
    """

    identifiers: pl.DataFrame
    records: pl.DataFrame
    edges: pl.DataFrame
    blocked: pl.DataFrame
    partials: pl.DataFrame

    @property
    def n_nodes(self) -> int:
        return self.identifiers.height + self.records.height


def _typed(ids: pl.DataFrame, rules: Rules) -> pl.DataFrame:
    """Canonical type, scope (only for scoped types), strength, priority, limit, partial."""
    if "seen_at" not in ids.columns:
        ids = ids.with_columns(pl.lit(None, dtype=pl.Datetime("us")).alias("seen_at"))
    if "is_partial" not in ids.columns:
        ids = ids.with_columns(pl.lit(False).alias("is_partial"))
    if "scope" not in ids.columns:
        ids = ids.with_columns(pl.lit(None, dtype=pl.String).alias("scope"))
    if "channel" not in ids.columns:
        ids = ids.with_columns(pl.lit(None, dtype=pl.String).alias("channel"))
    ids = ids.select(
        pl.col("record").cast(pl.String),
        pl.col("channel").cast(pl.String),
        pl.col("identifier_type").cast(pl.String).alias("raw_type"),
        pl.col("identifier_type")
        .cast(pl.String)
        .replace_strict(rules.canonical_type, default=None, return_dtype=pl.String)
        .alias("identifier_type"),
        pl.col("identifier_value").cast(pl.String),
        pl.col("scope").cast(pl.String),
        pl.col("is_partial").cast(pl.Boolean).fill_null(False),
        pl.col("seen_at"),
    ).filter(pl.col("identifier_value").is_not_null() & (pl.col("identifier_value") != ""))
    scoped = [t for t, r in rules.types.items() if r.scoped]
    ids = ids.with_columns(
        pl.when(pl.col("identifier_type").is_in(scoped))
        .then(pl.col("scope").fill_null(""))
        .otherwise(pl.lit(""))
        .alias("scope")
    )
    # per (type, scope): strength, priority, limit, shared threshold
    pairs = ids.select("identifier_type", "scope").unique().drop_nulls("identifier_type")
    looked = [
        (t, s, *rules.rule_for(t, s or None), rules.shared_threshold(t, s or None))
        for t, s in pairs.iter_rows()
    ]
    table = pl.DataFrame(
        looked,
        schema={
            "identifier_type": pl.String,
            "scope": pl.String,
            "strength": pl.String,
            "priority": pl.Int64,
            "max_per_person": pl.Int64,
            "shared_threshold": pl.Int64,
        },
        orient="row",
    )
    ids = ids.join(table, on=["identifier_type", "scope"], how="left")
    # partial by rule: the type is partial, or the value matches a partial pattern
    with_patterns = [t for t, r in rules.types.items() if r.partial_patterns]
    values = ids.filter(pl.col("identifier_type").is_in(with_patterns)).select(
        "identifier_type", "identifier_value"
    )
    hits = [(t, v) for t, v in values.unique().iter_rows() if rules.is_partial_value(t, v)]
    partial_by_rule = pl.DataFrame(
        hits, schema={"identifier_type": pl.String, "identifier_value": pl.String}, orient="row"
    ).with_columns(pl.lit(True).alias("_pattern_partial"))
    ids = ids.join(partial_by_rule, on=["identifier_type", "identifier_value"], how="left")
    return ids.with_columns(
        (
            pl.col("is_partial")
            | (pl.col("strength") == "partial")
            | pl.col("_pattern_partial").fill_null(False)
        ).alias("is_partial")
    ).drop("_pattern_partial")


def _blocklisted(ids: pl.DataFrame, rules: Rules) -> pl.DataFrame:
    distinct = ids.filter(pl.col("identifier_type").is_not_null()).select(
        "identifier_type", "identifier_value"
    )
    rows = [
        (t, v, reason)
        for t, v in distinct.unique().iter_rows()
        if (reason := rules.block_reason(t, v)) is not None
    ]
    return pl.DataFrame(
        rows,
        schema={"identifier_type": pl.String, "identifier_value": pl.String, "reason": pl.String},
        orient="row",
    )


def _shared(usable: pl.DataFrame) -> pl.DataFrame:
    """Identifiers linked (on some record) to more distinct strong identifiers of one other
    type (and scope) than that type allows one person: the family phone, the card at the till.
    """
    slim = usable.select(
        "record", "node_key", "identifier_type", "scope", "strength", "shared_threshold"
    ).unique(["record", "node_key"])
    strong = slim.filter(pl.col("strength") == "strong").select(
        "record",
        pl.col("node_key").alias("other"),
        pl.col("identifier_type").alias("other_type"),
        pl.col("scope").alias("other_scope"),
        pl.col("shared_threshold").alias("threshold"),
    )
    pairs = slim.select("record", "node_key", "identifier_type").join(strong, on="record")
    pairs = pairs.filter(pl.col("identifier_type") != pl.col("other_type"))
    counts = pairs.group_by("node_key", "other_type", "other_scope").agg(
        pl.col("other").n_unique().alias("linked"), pl.col("threshold").first()
    )
    over = counts.filter(pl.col("linked") > pl.col("threshold")).sort(
        ["node_key", "linked", "other_type", "other_scope"], descending=[False, True, False, False]
    )
    return (
        over.group_by("node_key", maintain_order=True)
        .first()
        .select(
            "node_key",
            pl.format(
                "shared: linked to {} distinct {}{} (more than {})",
                pl.col("linked"),
                pl.col("other_type"),
                pl.when(pl.col("other_scope") != "")
                .then(pl.lit("@") + pl.col("other_scope"))
                .otherwise(pl.lit("")),
                pl.col("threshold"),
            ).alias("reason"),
        )
    )


def build_graph(
    ids: pl.DataFrame,
    rules: Rules,
    records: pl.Series | None = None,
    shared: pl.DataFrame | None = None,
) -> Graph:
    """Type, block and link the identifiers of ``ids`` (see the module docstring).

    ``records`` optionally lists every record key, also those without any identifier (the
    command line gives every input row a cluster). ``shared`` (node_key, reason): the shared
    identifiers as known from more records than ``ids`` holds (an incremental run resolves a
    part of the records, ``models.identity.incremental``), used instead of counting them
    over ``ids``."""
    typed = _typed(ids, rules).with_columns(
        node_key(pl.col("identifier_type"), pl.col("scope"), pl.col("identifier_value")).alias(
            "node_key"
        )
    )
    unknown = typed.filter(pl.col("identifier_type").is_null()).with_columns(
        pl.format("no rule for identifier type {}", pl.col("raw_type")).alias("reason"),
        pl.col("raw_type").alias("identifier_type"),
        pl.concat_str(
            [pl.col("raw_type"), pl.lit(""), pl.col("identifier_value")], separator=SEP
        ).alias("node_key"),
    )
    typed = typed.filter(pl.col("identifier_type").is_not_null())
    listed = _blocklisted(typed, rules)
    typed = typed.join(listed, on=["identifier_type", "identifier_value"], how="left")
    candidates = typed.filter(pl.col("reason").is_null() & ~pl.col("is_partial"))
    if shared is None:
        shared = _shared(candidates)
    typed = typed.join(shared.rename({"reason": "shared_reason"}), on="node_key", how="left")
    typed = typed.with_columns(pl.coalesce("reason", "shared_reason").alias("reason")).drop(
        "shared_reason"
    )
    columns = [
        "node_key",
        "identifier_type",
        "scope",
        "identifier_value",
        "reason",
        "record",
        "seen_at",
    ]
    blocked_rows = pl.concat(
        [typed.filter(pl.col("reason").is_not_null()).select(columns), unknown.select(columns)]
    )
    blocked = (
        blocked_rows.group_by("node_key")
        .agg(
            pl.col("identifier_type", "scope", "identifier_value", "reason").first(),
            pl.col("record").n_unique().alias("records"),
            pl.col("seen_at").min().alias("first_seen"),
            pl.col("seen_at").max().alias("last_seen"),
        )
        .sort("node_key")
        .drop("node_key")
    )
    usable = typed.filter(pl.col("reason").is_null())
    partials = usable.filter(pl.col("is_partial")).select(
        "record",
        "channel",
        "identifier_type",
        "scope",
        "identifier_value",
        "strength",
        "priority",
        "seen_at",
    )
    linking = usable.filter(~pl.col("is_partial"))

    identifiers = (
        linking.group_by("node_key")
        .agg(
            pl.col(
                "identifier_type",
                "scope",
                "identifier_value",
                "strength",
                "priority",
                "max_per_person",
            ).first(),
            pl.col("record").n_unique().alias("records"),
            pl.col("channel").drop_nulls().unique().sort().str.join(",").alias("channels"),
            pl.col("seen_at").min().alias("first_seen"),
            pl.col("seen_at").max().alias("last_seen"),
        )
        .sort("node_key")
        .with_row_index("node")
        .with_columns(
            pl.col("node").cast(pl.Int64),
            pl.col("identifier_type")
            .replace_strict(rules.windows, default=None, return_dtype=pl.Int64)
            .alias("window_days"),
        )
    )
    all_records = (
        pl.concat(
            [
                typed.select("record"),
                unknown.select("record"),
                *(
                    [records.cast(pl.String).alias("record").to_frame()]
                    if records is not None
                    else []
                ),
            ]
        )
        .unique()
        .sort("record")
    )
    n_ids = identifiers.height
    record_nodes = all_records.with_row_index("node").with_columns(
        (pl.col("node").cast(pl.Int64) + n_ids).alias("node")
    )
    record_links = (
        linking.select("record", "node_key", "strength", "priority")
        .unique(["record", "node_key"])
        .join(identifiers.select("node_key", pl.col("node").alias("v")), on="node_key")
        .join(record_nodes.select("record", pl.col("node").alias("u")), on="record")
        .select(
            "u",
            "v",
            pl.col("strength").replace_strict(STRENGTH_RANK, return_dtype=pl.Int64).alias("tier"),
            pl.col("priority").cast(pl.Int64),
            pl.col("u").alias("via"),
        )
    )
    rollup_links = _rollup_links(linking, identifiers, record_nodes, rules)
    edges = pl.concat([rollup_links, record_links]).sort(["tier", "priority", "via", "u", "v"])
    return Graph(identifiers, record_nodes, edges, blocked, partials)


def _rollup_links(
    linking: pl.DataFrame, identifiers: pl.DataFrame, record_nodes: pl.DataFrame, rules: Rules
) -> pl.DataFrame:
    schema = {"u": pl.Int64, "v": pl.Int64, "tier": pl.Int64, "priority": pl.Int64, "via": pl.Int64}
    parts = []
    for child, parent in rules.rollups.items():
        c = linking.filter(pl.col("identifier_type") == child).select("record", "node_key")
        p = linking.filter(pl.col("identifier_type") == parent).select(
            "record", pl.col("node_key").alias("parent_key")
        )
        pairs = c.join(p, on="record").join(
            record_nodes.select("record", pl.col("node").alias("via")), on="record"
        )
        pairs = pairs.group_by("node_key", "parent_key").agg(pl.col("via").min())
        parts.append(
            pairs.join(identifiers.select("node_key", pl.col("node").alias("u")), on="node_key")
            .join(
                identifiers.select(
                    pl.col("node_key").alias("parent_key"), pl.col("node").alias("v")
                ),
                on="parent_key",
            )
            .select(
                "u",
                "v",
                pl.lit(TIER_ROLLUP, dtype=pl.Int64).alias("tier"),
                pl.lit(rules.types[child].priority, dtype=pl.Int64).alias("priority"),
                pl.col("via").cast(pl.Int64),
            )
        )
    return pl.concat(parts) if parts else pl.DataFrame(schema=schema)


def add_record_links(graph: Graph, links: pl.DataFrame) -> Graph:
    """Add record-to-record links (``record_l``, ``record_r``, ``match_weight``) from a
    probabilistic model, as the last tier: strongest weight first."""
    if links.is_empty():
        return graph
    nodes = graph.records.select("record", "node")
    extra = (
        links.join(nodes.rename({"record": "record_l", "node": "u"}), on="record_l")
        .join(nodes.rename({"record": "record_r", "node": "v"}), on="record_r")
        .sort(["match_weight", "u", "v"], descending=[True, False, False])
        .with_row_index("rank")
        .select(
            "u",
            "v",
            pl.lit(TIER_PROBABILISTIC, dtype=pl.Int64).alias("tier"),
            pl.col("rank").cast(pl.Int64).alias("priority"),
            pl.col("u").alias("via"),
        )
    )
    edges = pl.concat([graph.edges, extra]).sort(["tier", "priority", "via", "u", "v"])
    return Graph(graph.identifiers, graph.records, edges, graph.blocked, graph.partials)
