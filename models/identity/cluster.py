"""Constrained clustering of the identity graph.

Links are processed in a fixed order (roll-ups, then strong identifiers, then weak ones, then
probabilistic links; within a tier by the identifier's priority, then by record) with
union-find, and a union that would give one customer more identifiers of a type than
``max_per_person`` allows is refused: the later, weaker link gives way, and each refusal is a
row of the limit audit.

A limit may count within a time window (``window_days`` in the rules): two values of the type
whose seen periods lie more than the window apart (an old number given up, a new one taken)
do not count together; the hold is the largest number of values seen within one window.

Names are the second constraint: a weak (or probabilistic) link never joins two clusters
whose records name their person and share no name (a family phone between a mother's member
account and a daughter's WeChat orders). Strong identifiers are trusted over names. Records
without a name (a till receipt, a consent) join freely.

The constraint only matters inside a connected component that breaks a limit as a whole:
when a component holds no more identifiers of each limited type than the limit, and at most
one name, no union on the way to it can break one (counts only grow). So the components are found first with
``scipy.sparse.csgraph.connected_components`` (C speed), and the ordered union-find runs only
on the components that break a limit (see ``bench/identity.py`` for the figures).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import polars as pl
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from models.identity.graph import TIER_WEAK, Graph


@dataclass
class Clustering:
    """``labels``: a dense cluster index per node (identifiers first, then records).
    ``refusals``: one row per refused union (via = the record node that gave the link;
    u, v = the nodes it would have joined; root_u, root_v = a node of each side; limit_key,
    limit, would_hold, conflicting = the limited identifiers of that type on both sides)."""

    labels: np.ndarray
    refusals: pl.DataFrame
    stats: dict = field(default_factory=dict)
    components: np.ndarray | None = None  # per node, its component of the edges before limits


REFUSAL_SCHEMA = {
    "u": pl.Int64,
    "v": pl.Int64,
    "via": pl.Int64,
    "tier": pl.Int64,
    "root_u": pl.Int64,
    "root_v": pl.Int64,
    "limit_key": pl.String,
    "limit": pl.Int64,
    "would_hold": pl.Int64,
    "conflicting": pl.List(pl.Int64),
    "names": pl.String,  # the name refusals: the names of each side
}
NAME_LIMIT = "name"


def components(n: int, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Connected components of an undirected graph of n nodes (scipy, C speed)."""
    graph = coo_matrix((np.ones(len(u), dtype=np.int8), (u, v)), shape=(n, n)).tocsr()
    _, labels = connected_components(graph, directed=False)
    return labels.astype(np.int64)


def _limits(graph: Graph) -> tuple[np.ndarray, list[str], np.ndarray]:
    """Per node: index of its limited (type, scope) or -1; the keys; the limit of each key."""
    ids = graph.identifiers
    limited = ids.filter(pl.col("max_per_person").is_not_null()).with_columns(
        pl.concat_str(
            [
                pl.col("identifier_type"),
                pl.when(pl.col("scope") != "")
                .then(pl.lit("@") + pl.col("scope"))
                .otherwise(pl.lit("")),
            ]
        ).alias("limit_key")
    )
    if "window_days" in limited.columns:
        limited = limited.with_columns(
            pl.when(pl.col("window_days").is_not_null())
            .then(pl.format("{} within {} days", pl.col("limit_key"), pl.col("window_days")))
            .otherwise(pl.col("limit_key"))
            .alias("limit_key")
        )
    keys = sorted(limited["limit_key"].unique().to_list())
    codes = limited["limit_key"].replace_strict(
        {k: i for i, k in enumerate(keys)}, return_dtype=pl.Int64
    )
    limit_of = np.zeros(len(keys), dtype=np.int64)
    node_key = np.full(graph.n_nodes, -1, dtype=np.int64)
    if len(keys):
        node_key[limited["node"].to_numpy()] = codes.to_numpy()
        limit_of[codes.to_numpy()] = limited["max_per_person"].to_numpy()
    return node_key, keys, limit_of


def _windows(graph: Graph, n_keys: int, node_key: np.ndarray):
    """Per key its window in days (0: none); per node the day it was first seen and the day
    it was last seen plus its key's window (NaN when unknown: it overlaps everything)."""
    window_of = np.zeros(n_keys, dtype=np.int64)
    start = np.full(graph.n_nodes, np.nan)
    end = np.full(graph.n_nodes, np.nan)
    ids = graph.identifiers
    if "window_days" not in ids.columns or ids["window_days"].null_count() == ids.height:
        return window_of, start, end
    w = ids.filter(pl.col("window_days").is_not_null()).select(
        "node",
        "window_days",
        (pl.col("first_seen").dt.epoch("s") / 86400).alias("s"),
        (pl.col("last_seen").dt.epoch("s") / 86400 + pl.col("window_days")).alias("e"),
    )
    nodes = w["node"].to_numpy()
    window_of[node_key[nodes]] = w["window_days"].to_numpy()
    start[nodes] = w["s"].fill_null(np.nan).to_numpy()
    end[nodes] = w["e"].fill_null(np.nan).to_numpy()
    return window_of, start, end


def _held_within(nodes: list[int], start: np.ndarray, end: np.ndarray) -> int:
    """The most values seen within one window: the deepest overlap of [start, end] periods
    (a value without a period overlaps every other)."""
    always = sum(1 for x in nodes if np.isnan(start[x]) or np.isnan(end[x]))
    points = sorted(
        [(start[x], 0) for x in nodes if not (np.isnan(start[x]) or np.isnan(end[x]))]
        + [(end[x], 1) for x in nodes if not (np.isnan(start[x]) or np.isnan(end[x]))]
    )
    depth = best = 0
    for _, kind in points:
        depth += 1 if kind == 0 else -1
        best = max(best, depth)
    return best + always


def cluster(
    graph: Graph, names: np.ndarray | None = None, name_shown: list[str | None] | None = None
) -> Clustering:
    """Cluster the graph's nodes; see the module docstring. ``names``: per node, a code of
    the person's name its record gives (-1: none; identifiers have none); ``name_shown``: per
    node, the name as its record writes it (for the audit: a name is shown as the smallest
    spelling of its code within the component, so the audit of a component depends on that
    component only)."""
    t0 = time.perf_counter()
    n = graph.n_nodes
    edges = graph.edges
    u = edges["u"].to_numpy().astype(np.int64)
    v = edges["v"].to_numpy().astype(np.int64)
    comp = components(n, u, v)
    t1 = time.perf_counter()
    node_key, keys, limit_of = _limits(graph)
    window_of, start, end = _windows(graph, len(keys), node_key)
    # components that break a limit as a whole (a windowed count is never larger)
    has = node_key >= 0
    if has.any():
        counts = (
            pl.DataFrame({"comp": comp[has], "key": node_key[has]}).group_by("comp", "key").len()
        )
        over = counts["len"].to_numpy() > limit_of[counts["key"].to_numpy()]
        bad = np.zeros(comp.max() + 1 if n else 0, dtype=bool)
        bad[counts["comp"].to_numpy()[over]] = True
    else:
        bad = np.zeros(comp.max() + 1 if n else 0, dtype=bool)
    named = names >= 0 if names is not None else np.zeros(n, dtype=bool)
    if named.any():
        per = pl.DataFrame({"comp": comp[named], "name": names[named]}).group_by("comp")
        many = per.agg(pl.col("name").n_unique().alias("k")).filter(pl.col("k") > 1)
        bad[many["comp"].to_numpy()] = True
    labels = comp.copy()
    refusals: list[tuple] = []
    n_bad = int(bad.sum())
    if n_bad:
        sel = np.flatnonzero(bad[comp[u]])  # edges inside a limit-breaking component, in order
        tiers = edges["tier"].to_numpy()
        vias = edges["via"].to_numpy()
        parent = list(range(n))
        members: dict[int, dict[int, list[int]]] = {}
        for node in np.flatnonzero(bad[comp] & (node_key >= 0)).tolist():
            members[node] = {int(node_key[node]): [node]}
        held: dict[int, set[int]] = {}
        label: dict[tuple[int, int], str] = {}
        for node in np.flatnonzero(bad[comp] & named).tolist():
            held[node] = {int(names[node])}
            key, spelt = (int(comp[node]), int(names[node])), name_shown and name_shown[node]
            if spelt is not None and (key not in label or spelt < label[key]):
                label[key] = spelt

        def find(x: int) -> int:
            root = x
            while parent[root] != root:
                root = parent[root]
            while parent[x] != root:
                parent[x], x = root, parent[x]
            return root

        for i in sel.tolist():
            a, b = int(u[i]), int(v[i])
            ra, rb = find(a), find(b)
            if ra == rb:
                continue
            ma, mb = members.get(ra), members.get(rb)
            refused = None
            if ma and mb:
                small, large = (ma, mb) if len(ma) <= len(mb) else (mb, ma)
                for k, nodes in small.items():
                    other = large.get(k)
                    if other and len(nodes) + len(other) > limit_of[k]:
                        both = nodes + other
                        hold = _held_within(both, start, end) if window_of[k] else len(both)
                        if hold > limit_of[k]:
                            refused = (k, hold, sorted(both))
                            break
            if refused is not None:
                k, hold, conflicting = refused
                refusals.append(
                    (
                        a,
                        b,
                        int(vias[i]),
                        int(tiers[i]),
                        ra,
                        rb,
                        keys[k],
                        int(limit_of[k]),
                        hold,
                        conflicting,
                        None,
                    )
                )
                continue
            na, nb = held.get(ra), held.get(rb)
            if tiers[i] >= TIER_WEAK and na and nb and na.isdisjoint(nb):
                sides = " / ".join(
                    ",".join(label.get((int(comp[a]), x), str(x)) for x in sorted(side))
                    for side in (na, nb)
                )
                refusals.append(
                    (a, b, int(vias[i]), int(tiers[i]), ra, rb, NAME_LIMIT, None,
                     len(na | nb), [], sides)
                )  # fmt: skip
                continue
            # union by size of the member maps; the root keeps the merged map
            if ma is not None and mb is not None and len(ma) < len(mb):
                ra, rb, ma, mb, na, nb = rb, ra, mb, ma, nb, na
            parent[rb] = ra
            if nb:
                if na is None:
                    held[ra] = nb
                else:
                    na |= nb
                held.pop(rb, None)
            if mb:
                if ma is None:
                    members[ra] = mb
                else:
                    for k, nodes in mb.items():
                        ma.setdefault(k, []).extend(nodes)
                members.pop(rb, None)
        bad_nodes = np.flatnonzero(bad[comp])
        roots = np.fromiter(
            (find(x) for x in bad_nodes.tolist()), dtype=np.int64, count=len(bad_nodes)
        )
        labels[bad_nodes] = n + roots  # distinct from the component labels
    _, dense = np.unique(labels, return_inverse=True)
    t2 = time.perf_counter()
    return Clustering(
        labels=dense.astype(np.int64),
        refusals=pl.DataFrame(refusals, schema=REFUSAL_SCHEMA, orient="row"),
        components=comp,
        stats={
            "components": int(comp.max() + 1) if n else 0,
            "constrained_components": n_bad,
            "constrained_edges": int(bad[comp[u]].sum()) if n_bad else 0,
            "seconds_components": round(t1 - t0, 3),
            "seconds_constrained": round(t2 - t1, 3),
        },
    )


def cluster_union_find(graph: Graph) -> np.ndarray:
    """Reference: the same ordered, constrained union-find over every edge (no scipy fast
    path; plain counts: no time windows, no names). Used by the tests and the benchmark to
    show the fast path changes nothing."""
    n = graph.n_nodes
    node_key, _, limit_of = _limits(graph)
    parent = list(range(n))
    members: dict[int, dict[int, int]] = {
        i: {int(node_key[i]): 1} for i in np.flatnonzero(node_key >= 0).tolist()
    }

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for a, b in zip(graph.edges["u"].to_list(), graph.edges["v"].to_list(), strict=True):
        ra, rb = find(a), find(b)
        if ra == rb:
            continue
        ma, mb = members.get(ra, {}), members.get(rb, {})
        if any(c + ma.get(k, 0) > limit_of[k] for k, c in mb.items()):
            continue
        parent[rb] = ra
        for k, c in mb.items():
            ma[k] = ma.get(k, 0) + c
        if ma:
            members[ra] = ma
        members.pop(rb, None)
    roots = np.array([find(x) for x in range(n)], dtype=np.int64)
    _, dense = np.unique(roots, return_inverse=True)
    return dense.astype(np.int64)
