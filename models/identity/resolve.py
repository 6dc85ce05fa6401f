"""Identity resolution of a long identifiers table, end to end: type and block the
identifiers, build the graph, cluster it under the limits, give every cluster a stable
customer id, and lay out the tables the warehouse keeps (``identity.*``).

Framework-free: ``orchestration/defs/identity.py`` and the ``zhongtai identity resolve``
command call :func:`resolve`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import polars as pl

from models.identity.cluster import NAME_LIMIT, cluster
from models.identity.graph import SEP, Graph, add_record_links, build_graph, node_key
from models.identity.rules import Rules
from models.identity.stable_ids import assign_ids

RECORD_PREFIX = "record" + SEP


@dataclass
class Resolution:
    """The result of one run. Tables:

    - ``records``: record, customer_id (null when none of its identifiers may link), cluster
    - ``customer_identifiers``: customer_id, identifier_type, scope, identifier_value,
      is_partial, strength, priority, records, channels, first_seen, last_seen (a partial
      identifier is listed under each customer whose records carry it)
    - ``blocked_identifiers``: identifier_type, scope, identifier_value, reason, records,
      first_seen, last_seen
    - ``limit_audit``: record, identifier_type, scope, identifier_value, reason,
      limit_type, max_per_person, conflicting_values, customer_id, other_customer_id
    - ``merges``: kind (merge, split, retired), from_customer_id, to_customer_id,
      identifiers, evidence
    """

    records: pl.DataFrame
    customer_identifiers: pl.DataFrame
    blocked_identifiers: pl.DataFrame
    limit_audit: pl.DataFrame
    merges: pl.DataFrame
    next_number: int
    stats: dict = field(default_factory=dict)
    graph: Graph | None = None
    components: np.ndarray | None = None  # per graph node: its component before limits

    def metadata(self) -> dict:
        return {
            "customers": int(self.customer_identifiers["customer_id"].n_unique()),
            "identifiers": int(self.customer_identifiers.filter(~pl.col("is_partial")).height),
            "partial_identifiers": int(
                self.customer_identifiers.filter(pl.col("is_partial"))
                .select("identifier_type", "scope", "identifier_value")
                .n_unique()
            ),
            "blocked": self.blocked_identifiers.height,
            "refusals": self.limit_audit.height,
            "records": self.records.height,
            "records_without_customer": int(self.records["customer_id"].null_count()),
            **{k: v for k, v in self.stats.items()},
        }


def previous_map(customer_identifiers: pl.DataFrame) -> pl.DataFrame:
    """(node_key, customer_id) of a previous run's customer_identifiers (partials left out)."""
    frame = customer_identifiers
    if "is_partial" in frame.columns:
        frame = frame.filter(~pl.col("is_partial").fill_null(False))
    return frame.select(
        node_key(pl.col("identifier_type"), pl.col("scope"), pl.col("identifier_value")).alias(
            "node_key"
        ),
        pl.col("customer_id"),
    )


def resolve(
    ids: pl.DataFrame,
    rules: Rules,
    previous: pl.DataFrame | None = None,
    issued_up_to: int = 0,
    *,
    all_records: pl.Series | None = None,
    record_links: pl.DataFrame | None = None,
    records_anchor_ids: bool = False,
    attributes: pl.DataFrame | None = None,
    graph: Graph | None = None,
    shared: pl.DataFrame | None = None,
) -> Resolution:
    """Resolve ``ids`` (see ``models.identity.graph`` for its columns).

    ``previous``: the previous run's ``customer_identifiers`` (ids are kept stable).
    ``issued_up_to``: the largest customer id number ever issued. ``all_records``: every
    record key, also those without identifiers. ``record_links``: probabilistic
    record-to-record links (record_l, record_r, match_weight), the last tier.
    ``records_anchor_ids``: a record alone is a customer too (the command line: every input
    row gets a cluster); otherwise a customer needs at least one linking identifier.
    ``attributes``: record, name_key (``models.identity.attributes``): a weak or
    probabilistic link never joins two clusters whose records name different persons.
    ``graph``: ``build_graph(ids, rules, all_records)`` when the caller has it already (a
    second resolution of the same identifiers), not built again. ``shared``: see
    ``build_graph``."""
    t0 = time.perf_counter()
    if graph is None:
        graph = build_graph(ids, rules, all_records, shared)
    if record_links is not None:
        graph = add_record_links(graph, record_links)
    t1 = time.perf_counter()
    clustering = cluster(graph, *_name_codes(graph, attributes))
    labels = clustering.labels
    t2 = time.perf_counter()
    n_ids = graph.identifiers.height
    id_nodes = graph.identifiers.select("node_key", "node").with_columns(
        pl.Series("cluster", labels[:n_ids] if n_ids else np.zeros(0, dtype=np.int64))
    )
    rec_nodes = graph.records.with_columns(
        pl.Series("cluster", labels[n_ids:] if graph.records.height else np.zeros(0, np.int64))
    )
    keys = id_nodes.select("node_key", "cluster")
    if records_anchor_ids:
        keys = pl.concat(
            [
                keys,
                rec_nodes.select(
                    (pl.lit(RECORD_PREFIX) + pl.col("record")).alias("node_key"), "cluster"
                ),
            ]
        )
    prev = previous_map(previous) if previous is not None else None
    assignment = assign_ids(keys, prev, issued_up_to)
    ids_of = assignment.ids  # cluster -> customer_id
    records = rec_nodes.join(ids_of, on="cluster", how="left").select(
        "record", "customer_id", "cluster"
    )
    linked = (
        graph.identifiers.with_columns(
            pl.Series("cluster", labels[:n_ids] if n_ids else np.zeros(0, dtype=np.int64))
        )
        .join(ids_of, on="cluster", how="left")
        .select(
            "customer_id",
            "identifier_type",
            "scope",
            "identifier_value",
            pl.lit(False).alias("is_partial"),
            "strength",
            "priority",
            "records",
            "channels",
            "first_seen",
            "last_seen",
        )
    )
    partial = (
        graph.partials.join(records.select("record", "customer_id"), on="record")
        .filter(pl.col("customer_id").is_not_null())
        .group_by("customer_id", "identifier_type", "scope", "identifier_value")
        .agg(
            pl.lit(True).alias("is_partial"),
            pl.lit("partial").alias("strength"),
            pl.col("priority").first(),
            pl.col("record").n_unique().alias("records"),
            pl.col("channel").drop_nulls().unique().sort().str.join(",").alias("channels"),
            pl.col("seen_at").min().alias("first_seen"),
            pl.col("seen_at").max().alias("last_seen"),
        )
    )
    customer_identifiers = pl.concat([linked, partial], how="vertical_relaxed").sort(
        ["customer_id", "is_partial", "priority", "identifier_type", "scope", "identifier_value"]
    )
    audit = _limit_audit(graph, clustering.refusals, labels, ids_of)
    merges = _with_evidence(assignment.changes, graph, labels, prev, ids_of, id_nodes)
    t3 = time.perf_counter()
    stats = {
        **clustering.stats,
        "seconds_graph": round(t1 - t0, 3),
        "seconds_cluster": round(t2 - t1, 3),
        "seconds_ids": round(t3 - t2, 3),
        "edges": graph.edges.height,
    }
    return Resolution(
        records=records,
        customer_identifiers=customer_identifiers,
        blocked_identifiers=graph.blocked,
        limit_audit=audit,
        merges=merges,
        next_number=assignment.next_number,
        stats=stats,
        graph=graph,
        components=clustering.components,
    )


def _name_codes(
    graph: Graph, attributes: pl.DataFrame | None
) -> tuple[np.ndarray | None, list[str | None] | None]:
    """Per graph node, a code of the name its record gives (-1: none), and the name as the
    record writes it (None: no name)."""
    if attributes is None or attributes.is_empty():
        return None, None
    shown = pl.col("name") if "name" in attributes.columns else pl.col("name_key")
    named = (
        graph.records.select("record", "node")
        .join(
            attributes.select("record", "name_key", shown.alias("shown")).drop_nulls("name_key"),
            on="record",
        )
        .with_columns((pl.col("name_key").rank("dense").cast(pl.Int64) - 1).alias("code"))
    )
    codes = np.full(graph.n_nodes, -1, dtype=np.int64)
    codes[named["node"].to_numpy()] = named["code"].to_numpy()
    shown: list[str | None] = [None] * graph.n_nodes
    for node, name in named.select("node", "shown").iter_rows():
        shown[node] = name
    return codes, shown


def _node_table(graph: Graph) -> pl.DataFrame:
    ids = graph.identifiers.select(
        "node",
        "identifier_type",
        "scope",
        "identifier_value",
        pl.lit(None, dtype=pl.String).alias("record"),
    )
    recs = graph.records.select(
        pl.col("node"),
        pl.lit(None, dtype=pl.String).alias("identifier_type"),
        pl.lit(None, dtype=pl.String).alias("scope"),
        pl.lit(None, dtype=pl.String).alias("identifier_value"),
        pl.col("record"),
    )
    return pl.concat([ids, recs])


def _limit_audit(
    graph: Graph, refusals: pl.DataFrame, labels: np.ndarray, ids_of: pl.DataFrame
) -> pl.DataFrame:
    schema = {
        "record": pl.String,
        "identifier_type": pl.String,
        "scope": pl.String,
        "identifier_value": pl.String,
        "reason": pl.String,
        "limit_type": pl.String,
        "max_per_person": pl.Int64,
        "conflicting_values": pl.String,
        "customer_id": pl.String,
        "other_customer_id": pl.String,
    }
    if refusals.is_empty():
        return pl.DataFrame(schema=schema)
    nodes = _node_table(graph)
    cid = ids_of.select("cluster", "customer_id")
    label = pl.Series(labels)
    values = graph.identifiers.select("node", "identifier_value")
    r = refusals.with_row_index("i").with_columns(
        pl.Series("cluster_u", label.gather(refusals["root_u"])),
        pl.Series("cluster_v", label.gather(refusals["root_v"])),
    )
    conflicting = (
        r.select("i", pl.col("conflicting").alias("node"))
        .explode("node", empty_as_null=True)
        .join(values, on="node", how="left")
        .group_by("i")
        .agg(pl.col("identifier_value").sort().str.join(", ").alias("conflicting_values"))
    )
    # the identifier that gave way: v (for a record's link), the child (for a roll-up)
    out = (
        r.join(nodes.rename({"node": "via"}).select("via", "record"), on="via", how="left")
        .join(nodes.drop("record").rename({"node": "v"}), on="v", how="left")
        .join(conflicting, on="i", how="left")
        .join(cid.rename({"cluster": "cluster_u"}), on="cluster_u", how="left")
        .join(
            cid.rename({"cluster": "cluster_v", "customer_id": "other_customer_id"}),
            on="cluster_v",
            how="left",
        )
        .sort("i")
        .select(
            "record",
            "identifier_type",
            "scope",
            "identifier_value",
            pl.when(pl.col("limit_key") == NAME_LIMIT)
            .then(pl.format("a weak link between differently named persons: {}", pl.col("names")))
            .otherwise(
                pl.format(
                    "a customer may hold {} {}: this link would give {}",
                    pl.col("limit"),
                    pl.col("limit_key"),
                    pl.col("would_hold"),
                )
            )
            .alias("reason"),
            pl.col("limit_key").alias("limit_type"),
            pl.col("limit").alias("max_per_person"),
            "conflicting_values",
            "customer_id",
            "other_customer_id",
        )
    )
    return out.cast(schema)


def _with_evidence(
    changes: pl.DataFrame,
    graph: Graph,
    labels: np.ndarray,
    prev: pl.DataFrame | None,
    ids_of: pl.DataFrame,
    id_nodes: pl.DataFrame,
) -> pl.DataFrame:
    """Evidence of each change: for a merge, the records that carry identifiers of both ids
    (or of one id and new identifiers); for a split or a retirement, what happened to the
    identifiers (now blocked, gone, or with another customer)."""
    if changes.is_empty() or prev is None:
        return changes.with_columns(pl.lit(None, dtype=pl.String).alias("evidence"))
    n_ids = graph.identifiers.height
    old = id_nodes.join(prev, on="node_key", how="left").select(
        "node", pl.col("customer_id").fill_null("new").alias("old")
    )
    links = graph.edges.filter(pl.col("tier") >= 0).filter(pl.col("v") < n_ids)
    rec_old = (
        links.select(pl.col("u").alias("rnode"), pl.col("v").alias("node"))
        .filter(pl.col("rnode") >= n_ids)
        .join(old, on="node")
        .join(graph.records.select(pl.col("node").alias("rnode"), "record"), on="rnode")
        .group_by("record")
        .agg(pl.col("old").unique().sort())
        .filter(pl.col("old").list.len() > 1)
    )
    merge_ev = (
        changes.filter(pl.col("kind") == "merge")
        .select("from_customer_id", "to_customer_id")
        .join(
            rec_old.explode("old", empty_as_null=True).rename({"old": "from_customer_id"}),
            on="from_customer_id",
        )
        .sort("record")
        .group_by("from_customer_id", "to_customer_id", maintain_order=True)
        .agg(pl.col("record").head(3).str.join("; ").alias("evidence"))
        .with_columns(pl.lit("merge").alias("kind"))
    )
    blocked_keys = graph.blocked.select(
        node_key(pl.col("identifier_type"), pl.col("scope"), pl.col("identifier_value")).alias(
            "node_key"
        ),
        "reason",
    )
    gone = (
        prev.join(id_nodes.select("node_key"), on="node_key", how="anti")
        .join(blocked_keys, on="node_key", how="left")
        .with_columns(
            pl.when(pl.col("reason").is_not_null())
            .then(pl.format("{} now blocked ({})", pl.col("node_key"), pl.col("reason")))
            .otherwise(pl.format("{} no longer seen", pl.col("node_key")))
            .alias("what")
        )
        .sort("node_key")
        .group_by(pl.col("customer_id").alias("from_customer_id"), maintain_order=True)
        .agg(pl.col("what").head(3).str.join("; ").alias("gone"))
    )
    other = (
        changes.filter(pl.col("kind") != "merge")
        .join(gone, on="from_customer_id", how="left")
        .select(
            "kind",
            "from_customer_id",
            "to_customer_id",
            pl.col("gone").fill_null("its identifiers are no longer linked").alias("evidence"),
        )
    )
    evidence = pl.concat(
        [merge_ev.select("kind", "from_customer_id", "to_customer_id", "evidence"), other]
    )
    return changes.join(
        evidence,
        on=["kind", "from_customer_id", "to_customer_id"],
        how="left",
        nulls_equal=True,
    ).unique(["kind", "from_customer_id", "to_customer_id"], keep="first", maintain_order=True)
