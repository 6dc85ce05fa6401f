"""Connected components of an identity-shaped graph: scipy vs DuckDB iterative SQL vs polars,
and the constrained clustering of models/identity on top.

    .venv/bin/python bench/identity.py --edges 10000000

The graph: nodes in small groups (1-12 nodes, like the identifiers of one person), edges
within each group plus a few bridges between groups (shared phones), in random order. Each
method runs in its own process so that its peak RSS is its own. Prints seconds, peak RSS and
whether the components equal scipy's. Then times ``models.identity.cluster.cluster`` (scipy
plus the ordered union-find on limit-breaking components) against the plain ordered
union-find on the same graph, with limits on one node type.
Not a test: run on demand, figures go to bench/README.md.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import resource
import time
from pathlib import Path

import numpy as np

TMP = Path("/tmp/zt-bench-identity")


def make_graph(n_edges: int, seed: int = 0) -> tuple[int, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    sizes = rng.integers(1, 13, size=n_edges // 6)
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    n = int(sizes.sum())
    group = rng.integers(0, len(sizes), size=n_edges)
    u = starts[group] + (rng.random(n_edges) * sizes[group]).astype(np.int64)
    v = starts[group] + (rng.random(n_edges) * sizes[group]).astype(np.int64)
    bridges = n_edges // 50  # shared identifiers joining two people
    u[:bridges] = rng.integers(0, n, bridges)
    order = rng.permutation(n_edges)
    return n, u[order].astype(np.int64), v[order].astype(np.int64)


def run_scipy(n, u, v):
    from models.identity.cluster import components

    return components(n, u, v)


def run_duckdb(n, u, v):
    """Iterative min-label propagation in SQL (the portable option: runs on Spark too)."""
    import duckdb
    import pyarrow as pa

    con = duckdb.connect()
    con.execute("SET enable_progress_bar = false")
    con.register("e", pa.table({"u": u, "v": v}))
    con.execute("create table edges as select u as a, v as b from e union all select v, u from e")
    con.execute(f"create table labels as select range as node, range as label from range({n})")
    while True:
        con.execute(
            """
            create or replace table next as
            select l.node, least(l.label, coalesce(m.label, l.label)) as label
            from labels l left join (
                select e.a as node, min(l2.label) as label
                from edges e join labels l2 on l2.node = e.b group by e.a
            ) m using (node)
            """
        )
        changed = con.execute(
            "select count(*) from next join labels using (node) where next.label <> labels.label"
        ).fetchone()[0]
        con.execute("drop table labels")
        con.execute("alter table next rename to labels")
        if changed == 0:
            break
    out = con.execute("select label from labels order by node").fetchnumpy()["label"]
    con.close()
    return np.asarray(out)


def run_polars(n, u, v):
    """The same propagation with polars joins."""
    import polars as pl

    edges = pl.DataFrame({"a": np.concatenate([u, v]), "b": np.concatenate([v, u])}).lazy()
    labels = pl.DataFrame({"node": np.arange(n), "label": np.arange(n)})
    while True:
        m = (
            edges.join(labels.lazy(), left_on="b", right_on="node")
            .group_by("a")
            .agg(pl.col("label").min().alias("m"))
        )
        nxt = (
            labels.lazy()
            .join(m, left_on="node", right_on="a", how="left")
            .select(
                "node",
                pl.min_horizontal("label", pl.col("m").fill_null(pl.col("label"))).alias("label"),
            )
            .sort("node")
            .collect()
        )
        if nxt["label"].equals(labels["label"]):
            break
        labels = nxt
    return labels["label"].to_numpy()


METHODS = {"scipy": run_scipy, "duckdb": run_duckdb, "polars": run_polars}


def _child(name, n_edges, q):
    n, u, v = make_graph(n_edges)
    t0 = time.perf_counter()
    labels = METHODS[name](n, u, v)
    secs = time.perf_counter() - t0
    np.save(TMP / f"{name}.npy", labels)
    q.put((secs, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024))


def same_partition(a: np.ndarray, b: np.ndarray) -> bool:
    pairs = np.unique(np.stack([a, b], axis=1), axis=0)
    return len(pairs) == len(np.unique(a)) == len(np.unique(b))


def constrained(n_edges: int) -> None:
    import polars as pl

    from models.identity.cluster import cluster, cluster_union_find
    from models.identity.graph import Graph

    n, u, v = make_graph(n_edges)
    rng = np.random.default_rng(1)
    limited = rng.random(n) < 0.15  # e.g. member numbers, one per person
    ids = pl.DataFrame(
        {
            "node": np.arange(n),
            "identifier_type": np.where(limited, "member_no", "phone"),
            "scope": [""] * n,
            "max_per_person": np.where(limited, 1, None),
        }
    )
    edges = pl.DataFrame(
        {
            "u": u,
            "v": v,
            "tier": np.zeros(len(u), dtype=np.int64),
            "priority": np.zeros(len(u), dtype=np.int64),
            "via": u,
        }
    )
    graph = Graph(ids, pl.DataFrame({"record": [], "node": []}), edges, None, None)
    t0 = time.perf_counter()
    fast = cluster(graph)
    t1 = time.perf_counter()
    print(
        f"constrained clustering (scipy + union-find on limit-breaking components): "
        f"{t1 - t0:.1f} s; {fast.stats['constrained_components']} of "
        f"{fast.stats['components']} components break a limit, "
        f"{fast.stats['constrained_edges']} of {len(u)} edges go through the union-find"
    )
    if n_edges <= 2_000_000:
        slow = cluster_union_find(graph)
        t2 = time.perf_counter()
        print(
            f"plain ordered union-find over every edge: {t2 - t1:.1f} s; "
            f"same clusters: {same_partition(fast.labels, slow)}"
        )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--edges", type=int, default=10_000_000)
    ap.add_argument("--methods", default="scipy,duckdb,polars")
    args = ap.parse_args()
    TMP.mkdir(parents=True, exist_ok=True)
    n, _, _ = make_graph(args.edges)
    print(f"graph: {n:,} nodes, {args.edges:,} edges")
    ctx = mp.get_context("spawn")
    for name in args.methods.split(","):
        q = ctx.Queue()
        p = ctx.Process(target=_child, args=(name, args.edges, q))
        p.start()
        secs, rss = q.get()
        p.join()
        same = same_partition(np.load(TMP / "scipy.npy"), np.load(TMP / f"{name}.npy"))
        print(f"{name:8s} {secs:8.1f} s  peak RSS {rss:8.0f} MiB  same as scipy: {same}")
    constrained(args.edges)


if __name__ == "__main__":
    main()
