"""A new day's identity step: resolve again only the part of the graph that the day's
records can change, keep the rest as the previous run wrote it, write only the changed rows.

The result equals, row for row, what a full resolution of the same input with the same
stored Splink model writes (``tests/models/identity/test_incremental.py``). Why a part is
enough:

- clustering (``models.identity.cluster``) works per connected component of the edges
  before the limits (identifier links, roll-ups, probabilistic links), and every tie it
  breaks is broken by keys (node and record keys sort the same in a part as in the whole);
  stable ids (``stable_ids.assign_ids``) number new clusters by their smallest key after the
  largest number ever issued, and every new cluster is in the part;
- a record whose rows (identifiers, time) or attributes (name, address) changed, a new
  record and a record no longer staged are *changed*; an identifier they carry or carried
  may change its shared status, so every record carrying its value is touched; the part is
  every component (of the previous run, ``identity.state_components``) of a touched record;
- an identifier's shared status and its row of ``blocked_identifiers`` are recomputed from
  every record that carries it; the status of the part's other identifiers is the previous
  run's (their records did not change);
- the probabilistic tier depends on more than a component (a masked record matching two
  customers stays apart, the term frequencies of the address are the whole frame's), so it
  is computed over all of Splink's rows: the stored rows of the kept clusters
  (``identity.state_splink_rows``) and the new rows of the part; Splink's predict with the
  stored model is cheap. Every link that differs from the previous run's adds its records'
  components to the part.

The previous run's input is kept in ``identity.state_inputs`` (the erasure scrubs it like
every warehouse table) and, as a hash per record, ``state_attributes`` (no names or
addresses). The changed records are found by comparing the input with them; when the input
is the warehouse's staging (the asset), the state also keeps the staging ledgers of lake files
(``state_lake_files``), and a day whose ledgers show only new lake files compares only the
records those files can change (``models.identity.ledger``). Anything this cannot handle is
resolved in full, with the reason: no state, another state format, the rules file changed, another
Splink model (or one trained on this run), the masks of marketplace phones changed, the
identity tables changed since the previous run wrote them (an erasure, a hand edit).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass, field

import polars as pl

from ingest.config import transaction
from models.identity import ledger
from models.identity.cluster import NAME_LIMIT
from models.identity.graph import build_graph, node_key
from models.identity.marketplace import (
    LINK_SCHEMA,
    ROW_SCHEMA,
    finish,
    probabilistic_tier,
    resolve_linked,
    splink_rows,
    templates_of,
)
from models.identity.resolve import Resolution, resolve
from models.identity.rules import Rules
from models.identity.warehouse import (
    SCHEMA,
    append_merges,
    identity_frames,
    read_previous,
    replace_tables,
    table_names,
    write_tables,
)

STATE_FORMAT = 1
INPUT_COLUMNS = {
    "record": pl.String,
    "channel": pl.String,
    "identifier_type": pl.String,
    "identifier_value": pl.String,
    "scope": pl.String,
    "is_partial": pl.Boolean,
    "seen_at": pl.Datetime("us"),
}
OUTPUTS = (
    "customer_identifiers",
    "record_customers",
    "identifier_links",
    "blocked_identifiers",
    "limit_audit",
)
STATE = (
    "state_inputs",
    "state_attributes",
    "state_components",
    "state_splink_rows",
    "state_links",
    ledger.STATE,
)
MANIFEST = "state_manifest"


class Fallback(Exception):
    """Why this run resolves every record."""


@dataclass
class Outcome:
    """What a run did: ``mode`` "full" or "incremental", ``reason`` (why full, or what the
    part was), the resolution of what was resolved (all or the part), the probabilistic
    links and record tiers of it, the stats of ``resolve_linked``, the rows written per
    table, and the records resolved against all."""

    mode: str
    reason: str
    resolution: Resolution | None
    links: pl.DataFrame
    tiers: pl.DataFrame | None
    linked: dict
    written: dict = field(default_factory=dict)
    records_resolved: int = 0
    records_total: int = 0
    changes_found_by: str = ""  # the staging ledgers, or the comparison of all (and why)


def fingerprint(model: dict | None) -> str | None:
    """The SHA-256 of a Splink model's settings as JSON, without the blocking rules (each
    run chooses its own); None without a model."""
    if model is None:
        return None
    kept = {k: v for k, v in model.items() if k != "blocking_rules_to_generate_predictions"}
    return hashlib.sha256(json.dumps(kept, sort_keys=True).encode()).hexdigest()


def _inputs(ids: pl.DataFrame) -> pl.DataFrame:
    """``ids`` with the columns of ``INPUT_COLUMNS`` (missing ones null)."""
    return ids.select(
        (pl.col(c) if c in ids.columns else pl.lit(None)).cast(t).alias(c)
        for c, t in INPUT_COLUMNS.items()
    )


def _attributes(attributes: pl.DataFrame | None) -> pl.DataFrame:
    """record, digest (a hash of the record's attributes: the state keeps no name or
    address, which an erasure could not reach by lineage)."""
    if attributes is None or attributes.width < 2:
        return pl.DataFrame(schema={"record": pl.String, "digest": pl.UInt64})
    return attributes.select(
        "record", pl.struct(pl.exclude("record")).hash(seed=11).alias("digest")
    )


def _attribute_columns(attributes: pl.DataFrame | None) -> list[str]:
    return [] if attributes is None else attributes.columns


def _read(con, table: str) -> pl.DataFrame:
    return con.execute(f"select * from {SCHEMA}.{table}").pl()


def _counts(con) -> dict[str, int]:
    return {
        t: con.execute(f"select count(*) from {SCHEMA}.{t}").fetchone()[0]
        for t in (*OUTPUTS, *STATE)
        if f"{SCHEMA}.{t}" in table_names(con)
    }


def read_state(con) -> dict | None:
    """The previous run's state manifest, or None."""
    if f"{SCHEMA}.{MANIFEST}" not in table_names(con):
        return None
    row = con.execute(f"select manifest from {SCHEMA}.{MANIFEST}").fetchone()
    return json.loads(row[0]) if row else None


def _write_manifest(con, manifest: dict) -> None:
    manifest = {**manifest, "counts": _counts(con)}
    replace_tables(con, SCHEMA, {MANIFEST: pl.DataFrame({"manifest": [json.dumps(manifest)]})})


def _components(res: Resolution, offset: int) -> pl.DataFrame:
    """kind ("i" an identifier, "r" a record), key (node key or record), comp (component of
    the final graph, numbered from ``offset``)."""
    graph = res.graph
    comp = res.components + offset
    n_ids = graph.identifiers.height
    return pl.concat(
        [
            graph.identifiers.select(pl.lit("i").alias("kind"), pl.col("node_key").alias("key"))
            .with_columns(pl.Series("comp", comp[:n_ids], dtype=pl.Int64)),
            graph.records.select(pl.lit("r").alias("kind"), pl.col("record").alias("key"))
            .with_columns(pl.Series("comp", comp[n_ids:], dtype=pl.Int64)),
        ]
    )  # fmt: skip


def _stored_rows(rows: pl.DataFrame, comps: pl.DataFrame) -> pl.DataFrame:
    """Splink rows with their cluster label made unique across runs (the component's number
    before the run's own label)."""
    of = comps.filter(pl.col("kind") == "r").select(pl.col("key").alias("record"), "comp")
    return (
        rows.join(of, on="record", how="left")
        .with_columns(pl.format("{}:{}", pl.col("comp"), pl.col("c")).alias("c"))
        .select(list(ROW_SCHEMA))
    )


def run(
    con,
    ids: pl.DataFrame,
    attributes: pl.DataFrame | None,
    rules: Rules,
    rules_sha256: str,
    model: dict | None,
    run_at: dt.datetime,
    *,
    incremental: bool = True,
    staged: str | None = None,
) -> Outcome:
    """Resolve and write the identity schema: only the part the new and changed records can
    change when the previous run's state allows it (``incremental``), else in full; the
    reason is in the outcome. ``model``: the stored Splink model to predict with (None: the
    run trains one). ``staged``: ``ids`` and ``attributes`` are this warehouse's staging as
    ``read_identifiers`` and ``read_record_attributes`` read it, and this is the fingerprint
    of the staging models' code: the state then keeps the staging ledgers, and the next run
    finds its changed records from them (``models.identity.ledger``)."""
    state = read_state(con) if incremental else None
    reason = "asked for a full resolution" if not incremental else None
    if incremental:
        reason = _why_full(con, state, rules_sha256, model)
    if reason is None and state.get("attribute_columns") != _attribute_columns(attributes):
        reason = "the record attributes have other columns than the previous run's"
    if reason is None:
        try:
            return _atomic(con, _incremental, ids, attributes, rules, model, run_at, state, staged)
        except Fallback as exc:
            reason = str(exc)
    return _atomic(con, _full, ids, attributes, rules, rules_sha256, model, run_at, reason, staged)


def _atomic(con, work, *args) -> Outcome:
    """``work(con, *args)`` in one transaction: a run that stops half way leaves the previous
    run's tables and state as they were (the next run could not tell a half-written part)."""
    with transaction(con):
        return work(con, *args)


def _why_full(con, state: dict | None, rules_sha256: str, model: dict | None) -> str | None:
    if state is None:
        return "no state of a previous run"
    if state.get("format") != STATE_FORMAT:
        return f"state format {state.get('format')}, this code {STATE_FORMAT}"
    if state.get("rules_sha256") != rules_sha256:
        return "the rules file changed since the previous run"
    if state.get("polars") != pl.__version__:
        return f"the state was written with polars {state.get('polars')}, now {pl.__version__}"
    if state.get("model") != fingerprint(model):
        return (
            "the Splink model is trained on this run"
            if model is None
            else "another Splink model than the previous run's"
        )
    if state.get("counts") != _counts(con):
        return "the identity tables changed since the previous run wrote them"
    return None


def _ledgers(con, staged: str | None) -> dict:
    """The staging ledgers kept with the state (only when its input is this staging), as the
    manifest's entries."""
    if staged is None:
        ledger.forget(con)
        return {"ledgers": None, "staging_sha256": None}
    return {"ledgers": ledger.record(con), "staging_sha256": staged}


def _full(con, ids, attributes, rules, rules_sha256, model, run_at, reason, staged) -> Outcome:
    previous, issued = read_previous(con)
    result, links, tiers, linked = resolve_linked(ids, rules, previous, issued, attributes, model)
    written = write_tables(con, result, run_at, tiers)
    used = linked.get("splink") or {}
    scored_with = used.get("model") if used.get("trained") else model
    comps = _components(result, 0)
    rows = linked["rows"]
    replace_tables(
        con,
        SCHEMA,
        {
            "state_inputs": _inputs(ids),
            "state_attributes": _attributes(attributes),
            "state_components": comps,
            "state_splink_rows": _stored_rows(rows, comps),
            "state_links": links.cast(LINK_SCHEMA),
        },
    )
    _write_manifest(
        con,
        {
            **_ledgers(con, staged),
            "format": STATE_FORMAT,
            "rules_sha256": rules_sha256,
            "polars": pl.__version__,  # the attributes' digests are polars' hashes
            "attribute_columns": _attribute_columns(attributes),
            "model": fingerprint(scored_with),
            "templates": templates_of(rows),
            "issued": max(issued, result.next_number - 1),
            "next_comp": int(comps["comp"].max() or 0) + 1,
        },
    )
    n = result.records.height
    return Outcome("full", reason, result, links, tiers, linked, written, n, n)


def _candidates(con, state: dict, staged: str | None) -> tuple[pl.Series | None, str]:
    """The records that can have changed since the state, from the staging ledgers (None:
    every record), and how they were found."""
    if staged is None:
        return None, "compared all: the input is not read from this warehouse's staging"
    if state.get("ledgers") is None:
        return None, "compared all: no staging ledger kept with the state"
    if state.get("staging_sha256") != staged:
        return None, "compared all: the staging models changed since the previous run"
    try:
        records, n = ledger.candidates(con, state["ledgers"])
    except ledger.NoShortcut as exc:
        return None, f"compared all: {exc}"
    return records, f"staging ledgers: {records.len()} records in new lake files of {n} tables"


def _read_part(con, table: str, records: pl.Series | None) -> pl.DataFrame:
    """``_read`` of the rows of ``records`` only (all without)."""
    if records is None:
        return _read(con, table)
    con.register("_candidates", records.alias("record").to_frame().to_arrow())
    try:
        return con.execute(
            f"select * from {SCHEMA}.{table} where record in (select record from _candidates)"
        ).pl()
    finally:
        con.unregister("_candidates")


def _changed_records(
    con, ids: pl.DataFrame, attributes, candidates: pl.Series | None = None
) -> tuple[pl.DataFrame, pl.Series]:
    """Every identifier row, before and now, of the records whose rows changed, and every
    record whose rows or attributes changed (new, corrected, gone). ``candidates``: a
    superset of those records (``models.identity.ledger``); only they are compared."""
    if candidates is not None:
        inside = candidates.implode()
        ids = ids.filter(pl.col("record").is_in(inside))
        if attributes is not None:
            attributes = attributes.filter(pl.col("record").is_in(inside))
    now = _inputs(ids)
    before = _read_part(con, "state_inputs", candidates).cast(INPUT_COLUMNS)
    cols = list(INPUT_COLUMNS)
    added = now.join(before, on=cols, how="anti", nulls_equal=True)
    gone = before.join(now, on=cols, how="anti", nulls_equal=True)
    records = [pl.concat([added["record"], gone["record"]]).unique()]
    # every row, old and new, of a record whose rows changed: an identifier it kept may
    # change its shared status too (the record gained or lost a strong identifier beside it)
    inside = records[0].implode()
    diff = pl.concat([now.filter(pl.col("record").is_in(inside)),
                      before.filter(pl.col("record").is_in(inside))])  # fmt: skip
    attr_before = _read_part(con, "state_attributes", candidates).cast({"digest": pl.UInt64})
    attr_now = _attributes(attributes)
    for a, b in ((attr_now, attr_before), (attr_before, attr_now)):
        records.append(a.join(b, on=["record", "digest"], how="anti")["record"])
    return diff, pl.concat(records).unique()


def _incremental(con, ids, attributes, rules, model, run_at, state, staged) -> Outcome:
    candidates, found_by = _candidates(con, state, staged)
    diff, changed = _changed_records(con, ids, attributes, candidates)
    comps = _read(con, "state_components")
    total = ids["record"].n_unique()
    empty = pl.DataFrame(schema=LINK_SCHEMA)
    if changed.is_empty():
        if staged is not None:  # the state stands for the staging as it now is
            _write_manifest(con, {**{k: v for k, v in state.items() if k != "counts"},
                                  **_ledgers(con, staged)})  # fmt: skip
        return Outcome("incremental", "no new or changed records", None, empty, None, {}, {}, 0,
                       total, found_by)  # fmt: skip
    # every identifier of a changed record, keyed as the graph keys it; and the records
    # that carry its value now (any type: a superset)
    diff_nodes = build_graph(diff.drop("record").with_row_index("record").with_columns(
        pl.col("record").cast(pl.String)), rules)  # fmt: skip
    values = diff["identifier_value"].drop_nulls().unique()
    carrying = ids.filter(pl.col("identifier_value").is_in(values.implode()))
    near = pl.concat([carrying["record"], changed]).unique()
    # their blocked rows and shared status, from every record that carries them
    around = build_graph(ids.filter(pl.col("record").is_in(near.implode())), rules)
    touched_keys = pl.concat(
        [diff_nodes.identifiers["node_key"], _blocked_keys(diff_nodes.blocked)]
    ).unique()
    blocked_now = around.blocked.with_columns(_blocked_keys(around.blocked).alias("node_key"))
    blocked_now = blocked_now.filter(pl.col("node_key").is_in(touched_keys.implode()))
    # records that link through a touched identifier (blocklisted values and partial ones
    # link nothing, whatever the day brings: not followed)
    linking = diff_nodes.identifiers["identifier_value"].unique()
    start = pl.concat(
        [changed, ids.filter(pl.col("identifier_value").is_in(linking.implode()))["record"]]
    ).unique()
    part = _part(comps, start)
    previous_blocked = _read(con, "blocked_identifiers")
    known = pl.concat(
        [
            blocked_now.select("node_key", "reason"),
            previous_blocked.select(_blocked_keys(previous_blocked).alias("node_key"), "reason")
            .filter(~pl.col("node_key").is_in(touched_keys.implode())),
        ]
    )  # fmt: skip
    stored_rows = _read(con, "state_splink_rows").cast(ROW_SCHEMA)
    prev_links = _read(con, "state_links").cast(LINK_SCHEMA)
    templates = [tuple(t) for t in state["templates"]]
    first, sub_ids, sub_attr = _first(ids, attributes, rules, part, known)
    kept_rows = stored_rows.join(part.records, on="record", how="anti")
    fresh = pl.DataFrame(schema=ROW_SCHEMA)
    scored = rules.probabilistic.enabled and sub_attr is not None  # as probabilistic_tier
    if scored:
        # the masks (templates) are every candidate's: the same as before, or all anchors
        # change
        fresh = splink_rows(first, sub_attr)
        if templates_of(pl.concat([kept_rows, fresh])) != templates:
            raise Fallback("the masks of marketplace phones changed since the previous run")
        if templates_of(fresh) != templates:
            fresh = splink_rows(first, sub_attr, templates)
    rows = pl.concat([kept_rows, fresh.with_columns(pl.format("n:{}", pl.col("c")).alias("c"))])
    links, linked = probabilistic_tier(first, rules, sub_attr, model, rows=rows)
    if (linked.get("splink") or {}).get("trained"):
        raise Fallback(
            "the stored Splink model does not fit this data: "
            + str(linked["splink"].get("mismatch", "trained"))
        )
    links = links.cast(LINK_SCHEMA)
    # a link that differs from the previous run's: its records' components join the part
    moved = pl.concat(
        [
            links.join(prev_links, on=list(LINK_SCHEMA), how="anti", nulls_equal=True),
            prev_links.join(links, on=list(LINK_SCHEMA), how="anti", nulls_equal=True),
        ]
    )
    ends = pl.concat([moved["record_l"], moved["record_r"]]).unique()
    more = ends.filter(~ends.is_in(part.records["record"].implode()))
    by_links = 0
    if more.len():
        by_links = _part(comps, more).comps.len()
        part = _part(comps, pl.concat([part.records["record"], more]))
        first, sub_ids, sub_attr = _first(ids, attributes, rules, part, known)
        if scored:  # the clusters added are as before: so are their rows
            fresh = splink_rows(first, sub_attr, templates)
            kept_rows = stored_rows.join(part.records, on="record", how="anti")
    inside = part.records["record"].implode()
    l_in, r_in = pl.col("record_l").is_in(inside), pl.col("record_r").is_in(inside)
    if links.filter(l_in != r_in).height:
        raise Fallback("a probabilistic link crosses the part resolved again")
    part_links = links.filter(l_in & r_in)
    previous = _previous_customers(con, part.comps)
    final, tiers = finish(sub_ids, rules, first, part_links, previous, state["issued"], sub_attr)
    linked["probabilistic_records"] = int((tiers["link_tier"] == "probabilistic").sum())
    written = _replace_part(con, final, tiers, blocked_now, touched_keys, part, previous, run_at)
    new_comps = _components(final, state["next_comp"])
    _replace_state(con, ids, attributes, part, new_comps, fresh, links)
    _write_manifest(
        con,
        {
            **{k: v for k, v in state.items() if k != "counts"},
            **_ledgers(con, staged),
            "issued": max(state["issued"], final.next_number - 1),
            "next_comp": int(new_comps["comp"].max() or state["next_comp"]) + 1,
        },
    )
    n = part.records.height
    why = (
        f"{changed.len()} new or changed records; {n} of {total} records resolved again "
        f"({part.comps.len()} components, {by_links} of them added by a changed "
        "probabilistic link)"
    )
    return Outcome(
        "incremental", why, final, part_links, tiers, linked, written, n, total, found_by
    )


def _blocked_keys(blocked: pl.DataFrame) -> pl.Expr | pl.Series:
    return blocked.select(
        node_key(pl.col("identifier_type"), pl.col("scope"), pl.col("identifier_value"))
    ).to_series()


@dataclass
class Part:
    comps: pl.Series  # the previous run's components resolved again
    records: pl.DataFrame  # record: every record resolved again (and gone ones)


def _part(comps: pl.DataFrame, start: pl.Series) -> Part:
    """The components of the records of ``start``, and all their records (with ``start``)."""
    recs = comps.filter(pl.col("kind") == "r")
    hit = recs.filter(pl.col("key").is_in(start.implode()))["comp"].unique()
    records = pl.concat([recs.filter(pl.col("comp").is_in(hit.implode()))["key"], start]).unique()
    return Part(hit, records.alias("record").to_frame())


def _first(ids, attributes, rules, part: Part, known: pl.DataFrame):
    inside = part.records["record"].implode()
    sub_ids = ids.filter(pl.col("record").is_in(inside))
    sub_attr = attributes.filter(pl.col("record").is_in(inside)) if attributes is not None else None
    first = resolve(sub_ids, rules, attributes=sub_attr, shared=known)
    return first, sub_ids, sub_attr


def _previous_customers(con, part_comps: pl.Series) -> pl.DataFrame:
    """The previous customer_identifiers rows of every customer of the part's components."""
    con.register("_part_comps", pl.DataFrame({"comp": part_comps}).to_arrow())
    try:
        return con.execute(
            f"""
                with touched as (
                    select distinct c.customer_id
                    from {SCHEMA}.customer_identifiers c
                    join {SCHEMA}.state_components s on s.kind = 'i'
                     and s.key = c.identifier_type || '|' || coalesce(c.scope, '') || '|'
                                 || c.identifier_value
                    where not c.is_partial and s.comp in (select comp from _part_comps)
                )
                select * from {SCHEMA}.customer_identifiers
                where customer_id in (select customer_id from touched)
                """
        ).pl()
    finally:
        con.unregister("_part_comps")


def _delete_insert(con, table: str, frame: pl.DataFrame, where: str, keys: pl.DataFrame):
    """Delete the rows of ``SCHEMA.table`` that ``where`` names (over the temp frame
    ``_keys``), then insert ``frame`` by name."""
    con.register("_keys", keys.to_arrow())
    con.register("_rows", frame.to_arrow())
    try:
        con.execute(f"delete from {SCHEMA}.{table} where {where}")
        con.execute(f"insert into {SCHEMA}.{table} by name select * from _rows")
    finally:
        con.unregister("_keys")
        con.unregister("_rows")
    return frame.height


# a record key as ``split_record`` split it (a key without separators is all channel)
RECORD_KEY = "channel || coalesce(chr(31) || entity, '') || coalesce(chr(31) || record_id, '')"
_BY_RECORD = f"{RECORD_KEY} in (select record from _keys)"


def _replace_part(con, final, tiers, blocked_now, touched_keys, part, previous, run_at) -> dict:
    """Replace the part's rows of the identity tables by the new resolution's (laid out as
    ``write_tables`` lays out the whole), and append its merges."""
    frames = identity_frames(final, tiers)
    written = {
        "customer_identifiers": _delete_insert(
            con,
            "customer_identifiers",
            frames["customer_identifiers"],
            "customer_id in (select customer_id from _keys)",
            previous.select("customer_id").unique(),
        )
    }
    for table in ("record_customers", "identifier_links", "limit_audit"):
        written[table] = _delete_insert(con, table, frames[table], _BY_RECORD, part.records)
    written["blocked_identifiers"] = _delete_insert(
        con,
        "blocked_identifiers",
        blocked_now.drop("node_key"),
        "identifier_type || '|' || coalesce(scope, '') || '|' || identifier_value "
        "in (select node_key from _keys)",
        touched_keys.alias("node_key").to_frame(),
    )
    written["identity_merges"] = append_merges(con, final.merges, run_at)
    return written


def _replace_state(con, ids, attributes, part, new_comps, fresh, links) -> None:
    """The state of the part replaced by this run's (its inputs, attributes, components and
    Splink rows); the links, a small table, replaced whole."""
    inside = part.records["record"].implode()
    by_record = "record in (select record from _keys)"
    _delete_insert(
        con, "state_inputs", _inputs(ids.filter(pl.col("record").is_in(inside))), by_record,
        part.records,
    )  # fmt: skip
    if attributes is not None:
        _delete_insert(
            con, "state_attributes", _attributes(attributes.filter(pl.col("record").is_in(inside))),
            by_record, part.records,
        )  # fmt: skip
    _delete_insert(
        con,
        "state_components",
        new_comps,
        "comp in (select comp from _keys)",
        pl.DataFrame({"comp": part.comps}, schema={"comp": pl.Int64}),
    )
    _delete_insert(
        con, "state_splink_rows", _stored_rows(fresh, new_comps), by_record, part.records
    )
    replace_tables(con, SCHEMA, {"state_links": links})


def summary(con) -> dict:
    """The counts the asset reports, over the identity tables as they now are (an
    incremental run holds only its part in memory)."""

    def one(sql: str) -> int:
        return int(con.execute(sql).fetchone()[0])

    ci, lim = f"{SCHEMA}.customer_identifiers", f"{SCHEMA}.limit_audit"
    return {
        "customers": one(f"select count(distinct customer_id) from {ci}"),
        "customer_identifier_rows": one(f"select count(*) from {ci}"),
        "identifiers": one(f"select count(*) from {ci} where not is_partial"),
        "partial_identifiers": one(
            f"select count(*) from (select distinct identifier_type, scope, identifier_value "
            f"from {ci} where is_partial)"
        ),
        "blocked": one(f"select count(*) from {SCHEMA}.blocked_identifiers"),
        "refusals": one(f"select count(*) from {lim}"),
        "name_refusals": one(f"select count(*) from {lim} where limit_type = '{NAME_LIMIT}'"),
        "records": one(f"select count(*) from {SCHEMA}.record_customers"),
        "records_without_customer": one(
            f"select count(*) from {SCHEMA}.record_customers where customer_id is null"
        ),
        "probabilistic_links": one(f"select count(*) from {SCHEMA}.state_links"),
        "probabilistic_records": one(
            f"select count(*) from {SCHEMA}.identifier_links where link_tier = 'probabilistic'"
        )
        if f"{SCHEMA}.identifier_links" in table_names(con)
        else 0,
    }
