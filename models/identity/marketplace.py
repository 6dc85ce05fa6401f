"""Probabilistic links for records that carry only partial identifiers.

Marketplaces hide their buyers: Tmall's newer export, JD and Douyin show the receiver's phone
masked (``138****5678``: 7 of 11 digits) and the receiver's name as one letter (``王**``).
Neither may link on its own (a masked phone is shared by about one in twenty customers of a
large base, an initial by one in fifteen), but together, and against a customer who holds a
full phone with exactly those visible digits and a name with that letter, they are strong
evidence. This module finds those pairs with Splink (DuckDB backend, the same code as
``zhongtai identity resolve``: :func:`models.identity.records.probabilistic_links`), keeps the
ones at or above the rules' threshold whose candidate qualifies for one customer only, and
hands them to :func:`models.identity.resolve.resolve` as the last tier of links (they obey
every limit, and the name rule).

Rows compared (one Splink dataset, linked pairs kept only across the two kinds):

- candidates: one per (deterministic cluster, masked phone, initial) of records that carry a
  masked phone and a masked name;
- anchors: one per (deterministic cluster, full phone, letter its names may show), the full
  phone masked the way the candidates are (the visible head and tail lengths seen).
"""

from __future__ import annotations

import polars as pl

from models.identity.graph import node_key
from models.identity.records import probabilistic_links
from models.identity.resolve import Resolution, previous_map, resolve
from models.identity.rules import ProbabilisticRule, Rules

LINK_SCHEMA = {
    "record_l": pl.String,
    "record_r": pl.String,
    "match_weight": pl.Float64,
    "match_probability": pl.Float64,
    "evidence": pl.String,
}
_MASKED = r"^(\d*)\*+(\d*)$"
FUZZY = {"phone_digits": "id", "initial": "surname"}
# the delivery address, when the rules compare it: province, city and district in one text
# (a masked export shows no more of it), an address-kind attribute of records.py: exact,
# edit-distance and Jaro-Winkler levels, exact agreement weighed by its term frequency
ADDRESS = {"address": "address"}
_PLACE = pl.concat_str(["city", "district"], separator=" ", ignore_nulls=True)


def strongest(frame: pl.DataFrame, by: str | list[str], ties: list[str]) -> pl.DataFrame:
    """The row of the largest match_weight per ``by``, equal weights decided by ``ties``
    (ascending): the same row on every run, whatever order the rows came in."""
    order = frame.sort(["match_weight", *ties], descending=[True] + [False] * len(ties))
    return order.unique(by, keep="first", maintain_order=True)


def masked_phones(ids: pl.DataFrame) -> pl.DataFrame:
    """record, head, tail: the visible digits of every masked phone (``138****5678``) of a
    long identifiers table."""
    return ids.filter(
        (pl.col("identifier_type") == "phone") & pl.col("identifier_value").str.contains(_MASKED)
    ).select(
        "record",
        pl.col("identifier_value").str.extract(_MASKED, 1).alias("head"),
        pl.col("identifier_value").str.extract(_MASKED, 2).alias("tail"),
    )


def _candidates(first: Resolution, attributes: pl.DataFrame) -> pl.DataFrame:
    partial = masked_phones(first.graph.partials)
    masked_names = attributes.filter(
        pl.col("name_key").is_null() & (pl.col("initials").str.len_chars() == 1)
    ).select("record", pl.col("initials").alias("initial"), _address())
    cand = (
        partial.filter((pl.col("head").str.len_chars() + pl.col("tail").str.len_chars()) >= 6)
        .join(masked_names, on="record")
        .join(first.records.select("record", "customer_id"), on="record", how="left")
        .with_columns(pl.coalesce("customer_id", pl.lit("record:") + pl.col("record")).alias("c"))
    )
    return (
        cand.group_by("c", "head", "tail", "initial", "address")
        .agg(pl.col("record").min())
        .with_columns((pl.col("head") + "****" + pl.col("tail")).alias("phone_digits"))
    )


def _address() -> pl.Expr:
    return pl.when(_PLACE != "").then(_PLACE).alias("address")


def _anchors(first: Resolution, attributes: pl.DataFrame, templates: pl.DataFrame) -> pl.DataFrame:
    phones = first.customer_identifiers.filter(
        (pl.col("identifier_type") == "phone")
        & ~pl.col("is_partial")
        & pl.col("identifier_value").str.starts_with("+86")
    ).select(
        pl.col("customer_id").alias("c"),
        pl.col("identifier_value").str.slice(3).alias("national"),
    )
    named = first.records.join(attributes.drop_nulls("name_key"), on="record").select(
        pl.col("customer_id").alias("c"), "record", "initials", _address()
    )
    # every address the customer's records name (or none), each with its letters
    initials = (
        named.with_columns(pl.col("initials").str.split(""))
        .explode("initials")
        .group_by("c", pl.col("initials").alias("initial"), "address")
        .agg(pl.col("record").min())
    )
    masked = phones.join(templates, how="cross").filter(
        pl.col("national").str.len_chars() > pl.col("h") + pl.col("t")
    )
    masked = masked.select(
        "c",
        (
            pl.col("national").str.slice(0, pl.col("h"))
            + "****"
            + pl.col("national").str.slice(-pl.col("t").cast(pl.Int64))
        ).alias("phone_digits"),
    ).unique()
    return masked.join(initials, on="c")


ROW_SCHEMA = {
    "kind": pl.String,  # "c" a candidate (masked record), "a" an anchor (a full phone)
    "c": pl.String,  # the deterministic cluster
    "record": pl.String,  # the cluster's first record with these values
    "phone_digits": pl.String,
    "initial": pl.String,
    "address": pl.String,
}


def templates_of(rows: pl.DataFrame) -> list[tuple[int, int]]:
    """The (visible head, visible tail) lengths of the candidates' masked phones, sorted."""
    cand = rows.filter(pl.col("kind") == "c")
    digits = cand["phone_digits"]
    head = digits.str.extract(_MASKED, 1).str.len_chars().cast(pl.Int64)
    tail = digits.str.extract(_MASKED, 2).str.len_chars().cast(pl.Int64)
    return sorted(set(zip(head.to_list(), tail.to_list(), strict=True)))


def splink_rows(
    first: Resolution,
    attributes: pl.DataFrame,
    templates: list[tuple[int, int]] | None = None,
) -> pl.DataFrame:
    """The rows Splink compares (``ROW_SCHEMA``): one per candidate (deterministic cluster,
    masked phone, initial, address) and per anchor (cluster, full phone masked as a candidate
    shows it, letter, address). ``templates``: the masks to cut full phones to (default: the
    ones the candidates of ``first`` show; an incremental run gives those of every record)."""
    empty = pl.DataFrame(schema=ROW_SCHEMA)
    if first.graph is None or attributes.is_empty():
        return empty
    attributes = attributes.with_columns(
        pl.lit(None, pl.String).alias(c)
        for c in ("city", "district")
        if c not in attributes.columns
    )
    columns = ("c", "record", "phone_digits", "initial", "address")
    cand = _candidates(first, attributes).select(pl.lit("c").alias("kind"), *columns)
    if templates is None:
        templates = templates_of(cand)
    if not templates:
        return empty
    frame = pl.DataFrame(templates, schema={"h": pl.Int64, "t": pl.Int64}, orient="row")
    anchors = _anchors(first, attributes, frame)
    return pl.concat([cand, anchors.select(pl.lit("a").alias("kind"), *columns)]).cast(ROW_SCHEMA)


def marketplace_links(
    first: Resolution,
    attributes: pl.DataFrame,
    threshold: float,
    seed: int = 42,
    notes: list[str] | None = None,
    rule: ProbabilisticRule | None = None,
    shared_threshold: int = 3,
    model: dict | None = None,
    used: dict | None = None,
    rows: pl.DataFrame | None = None,
) -> tuple[pl.DataFrame, dict]:
    """Links (record_l = the candidate, record_r = a record of the anchor customer or, for
    two masked records, of the other candidate, the smaller record key on the left;
    match_weight, match_probability, evidence) from a deterministic resolution ``first``,
    and counts for the asset's metadata.

    ``rule`` (``profiles/identity.yml`` ``probabilistic``) says whether the delivery address
    is compared and the threshold of links between two masked records (whose addresses must
    agree). Masked records sharing one phone pattern, initial and address across more than
    ``shared_threshold`` clusters are a shared value (a brushing ring's throw-away accounts,
    a company's reception desk), as the rules treat a shared identifier: none of them links
    that way.

    ``model`` and ``used``: a trained Splink model to predict with, and what was used, as
    :func:`models.identity.records.probabilistic_links` takes them. ``rows``: the rows to
    compare (``splink_rows``) when the caller has them (an incremental run: the stored rows
    of the clusters it keeps and the new rows of the ones it resolves again); the links
    depend on the rows only, whatever the cluster labels ``c`` are."""
    rule = rule or ProbabilisticRule(threshold=threshold, seed=seed)
    notes = notes if notes is not None else []
    empty = pl.DataFrame(schema=LINK_SCHEMA)
    if rows is None:
        rows = splink_rows(first, attributes)
    cand = rows.filter(pl.col("kind") == "c")
    if cand.is_empty():
        return empty, {"candidates": 0}
    anchors = rows.filter(pl.col("kind") == "a")
    fuzzy = {**FUZZY, **(ADDRESS if rule.compare_address else {})}
    rows = pl.concat(
        frame.drop("kind")
        .sort(pl.all(), nulls_last=True)
        .with_row_index("i")
        .select(
            (pl.lit(prefix) + pl.col("i").cast(pl.String)).alias("record_id"),
            "phone_digits",
            "initial",
            "address",
            "c",
            "record",
        )
        for prefix, frame in (("c", cand), ("a", anchors))
    )
    scored = probabilistic_links(
        rows.select("record_id", *fuzzy),
        fuzzy,
        threshold=min(threshold, rule.masked_pairs_threshold or 1.0),
        seed=seed,
        notes=notes,
        strict=[list(FUZZY)],  # the prior: digits and initial agree, as without addresses
        model=model,
        used=used,
        # only pairs with the same visible digits and initial are kept below: the blocking
        # compares no others (the address rule alone found ~40 times as many, all dropped)
        agree=list(FUZZY),
    )
    keys = ("c", "rec", "phone_digits", "initial", "address")
    side = rows.select("record_id", "c", pl.col("record").alias("rec"), *keys[2:])
    pairs = (
        scored.join(side.rename(lambda x: f"{x}_l"), left_on="record_l", right_on="record_id_l")
        .join(side.rename(lambda x: f"{x}_r"), left_on="record_r", right_on="record_id_r")
        .with_columns(
            pl.col("record_l").str.starts_with("c").alias("l_is_candidate"),
            pl.col("record_r").str.starts_with("c").alias("r_is_candidate"),
        )
        .filter(
            (pl.col("phone_digits_l") == pl.col("phone_digits_r"))
            & (pl.col("initial_l") == pl.col("initial_r"))
            & (pl.col("c_l") != pl.col("c_r"))
        )
    )
    # orient: candidate on the left; of two candidates, the smaller record key (not the
    # order Splink gave them, which follows the row numbering)
    both = pl.col("l_is_candidate") & pl.col("r_is_candidate")
    swap = (pl.col("r_is_candidate") & ~pl.col("l_is_candidate")) | (
        both & (pl.col("rec_r") < pl.col("rec_l"))
    )
    oriented = pairs.filter(pl.col("l_is_candidate") | pl.col("r_is_candidate")).select(
        *[
            pl.when(swap).then(pl.col(f"{x}_r")).otherwise(pl.col(f"{x}_l")).alias(f"{x}_cand")
            for x in keys
        ],
        *[
            pl.when(swap).then(pl.col(f"{x}_l")).otherwise(pl.col(f"{x}_r")).alias(f"{x}_anchor")
            for x in keys
        ],
        (pl.col("l_is_candidate") & pl.col("r_is_candidate")).alias("both_masked"),
        "match_weight",
        "match_probability",
    )
    to_anchor = oriented.filter(~pl.col("both_masked"))
    # a candidate that several customers match at the threshold stays apart (a disagreeing
    # address takes a customer's pair below it)
    to_anchor = to_anchor.filter(pl.col("match_probability") >= threshold)
    per_candidate = to_anchor.group_by("rec_cand").agg(
        pl.col("c_anchor").n_unique().alias("customers")
    )
    ambiguous = per_candidate.filter(pl.col("customers") > 1)
    anchor_links = strongest(
        to_anchor.join(ambiguous, on="rec_cand", how="anti"),
        "rec_cand",
        ["rec_anchor", "address_cand", "address_anchor"],
    )
    # two masked records of different clusters, neither matching any full phone: linked when
    # Splink scores them at the stricter threshold and their delivery addresses agree
    with_anchor = (
        oriented.filter(~pl.col("both_masked")).select(pl.col("rec_cand").alias("rec")).unique()
    )
    masked_links = oriented.head(0)
    if rule.masked_pairs_threshold is not None and rule.compare_address:
        masked_links = (
            oriented.filter(
                pl.col("both_masked")
                & (pl.col("match_probability") >= rule.masked_pairs_threshold)
                & (pl.col("address_cand") == pl.col("address_anchor"))
            )
            .join(with_anchor, left_on="rec_cand", right_on="rec", how="anti")
            .join(with_anchor, left_on="rec_anchor", right_on="rec", how="anti")
            .with_columns(
                pl.concat_list("c_cand", "c_anchor")
                .flatten()
                .n_unique()
                .over("phone_digits_cand", "initial_cand", "address_cand")
                .alias("clusters")
            )
            .filter(pl.col("clusters") <= shared_threshold)
            .drop("clusters")
        )
        masked_links = strongest(
            masked_links,
            ["rec_cand", "rec_anchor"],
            ["phone_digits_cand", "initial_cand", "address_cand"],
        )
    place = pl.when(pl.col("address_cand").is_not_null()).then(
        pl.format(", delivery address {}", pl.col("address_cand"))
    )
    links = (
        pl.concat([anchor_links, masked_links])
        .sort("rec_cand", "rec_anchor")
        .select(
            pl.col("rec_cand").alias("record_l"),
            pl.col("rec_anchor").alias("record_r"),
            "match_weight",
            "match_probability",
            pl.concat_str(
                pl.format(
                    "masked phone {} and name initial {}",
                    pl.col("phone_digits_cand"),
                    pl.col("initial_cand"),
                ),
                place.otherwise(pl.lit("")),
                pl.when(pl.col("both_masked"))
                .then(pl.lit(" match another masked record's"))
                .otherwise(pl.lit(" match a customer's full phone and name")),
                pl.when(
                    pl.col("both_masked")
                    | (place.is_not_null() & (pl.col("address_cand") == pl.col("address_anchor")))
                )
                .then(pl.lit(" and address"))
                .otherwise(pl.lit("")),
            ).alias("evidence"),
        )
    )
    stats = {
        "candidates": cand.height,
        "anchors": anchors.height,
        "scored_pairs": scored.height,
        "ambiguous_candidates": ambiguous.height,
        "links": links.height,
        "links_between_masked_records": masked_links.height,
        "address_compared": rule.compare_address,
    }
    return links.cast(LINK_SCHEMA), stats


TIER_SCHEMA = {
    "record": pl.String,
    "customer_id": pl.String,
    "link_tier": pl.String,
    "match_weight": pl.Float64,
    "match_probability": pl.Float64,
    "evidence": pl.String,
}


def _first_cluster(first: Resolution) -> pl.DataFrame:
    return first.records.select(
        "record", pl.coalesce("customer_id", pl.lit("record:") + pl.col("record")).alias("c1")
    )


def link_tiers(
    first: Resolution, final: Resolution, links: pl.DataFrame
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The confidence tier of every link of ``final``:

    - per record (record, customer_id, link_tier, match_weight, match_probability, evidence):
      ``probabilistic`` for the records of a deterministic cluster that a probabilistic link
      joined to its customer (with that link's weight and evidence), else ``deterministic``
      (evidence: the identifier types the record links by);
    - per customer and identifier (customer_id, identifier_type, scope, identifier_value,
      is_partial, link_tier, match_weight): the same, for the identifiers of those clusters.
    """
    c1 = _first_cluster(first)
    cust = final.records.select("record", "customer_id")
    accepted = strongest(
        links.join(cust.rename({"record": "record_l", "customer_id": "c_l"}), on="record_l")
        .join(cust.rename({"record": "record_r", "customer_id": "c_r"}), on="record_r")
        .filter(pl.col("c_l") == pl.col("c_r"))
        .join(c1.rename({"record": "record_l"}), on="record_l"),
        "c1",
        ["record_l", "record_r"],
    ).select("c1", "match_weight", "match_probability", "evidence")
    graph = final.graph
    by_types = (
        graph.edges.filter(pl.col("tier").is_between(0, 1))
        .join(graph.records.select(pl.col("node").alias("u"), "record"), on="u")
        .join(graph.identifiers.select(pl.col("node").alias("v"), "identifier_type"), on="v")
        .group_by("record")
        .agg(pl.col("identifier_type").unique().sort().str.join(", ").alias("types"))
    )
    records = (
        cust.join(c1, on="record", how="left")
        .join(accepted, on="c1", how="left")
        .join(by_types, on="record", how="left")
        .select(
            "record",
            "customer_id",
            pl.when(pl.col("customer_id").is_null())
            .then(None)
            .when(pl.col("match_weight").is_not_null())
            .then(pl.lit("probabilistic"))
            .otherwise(pl.lit("deterministic"))
            .alias("link_tier"),
            "match_weight",
            "match_probability",
            pl.when(pl.col("customer_id").is_null())
            .then(None)
            .otherwise(
                pl.coalesce(
                    "evidence", pl.lit("shares ") + pl.col("types"), pl.lit("linked through")
                )
            )
            .alias("evidence"),
        )
        .cast(TIER_SCHEMA)
    )
    first_ids = first.customer_identifiers.select(
        pl.col("customer_id").alias("c1"),
        "identifier_type",
        "scope",
        "identifier_value",
        "is_partial",
    )
    # each deterministic cluster lies in one final customer: a partial identifier (listed on
    # every customer whose records carry it) takes the tier of that customer's link only
    final_of = c1.join(cust, on="record").select("c1", "customer_id").unique("c1")
    identifiers = (
        first_ids.join(accepted, on="c1")
        .join(final_of, on="c1")
        .group_by("customer_id", "identifier_type", "scope", "identifier_value", "is_partial")
        .agg(pl.col("match_weight").max())
        .with_columns(pl.lit("probabilistic").alias("link_tier"))
    )
    return records, identifiers


def with_link_tier(customer_identifiers: pl.DataFrame, tiers: pl.DataFrame) -> pl.DataFrame:
    """``customer_identifiers`` with link_tier (deterministic | probabilistic) and
    match_weight (of the probabilistic link that brought the identifier to the customer,
    else null)."""
    keys = ["customer_id", "identifier_type", "scope", "identifier_value", "is_partial"]
    joined = customer_identifiers.join(
        tiers, on=keys, how="left", nulls_equal=True, maintain_order="left"
    )
    return joined.with_columns(pl.col("link_tier").fill_null("deterministic"))


def merge_tiers(
    merges: pl.DataFrame,
    first: Resolution,
    links: pl.DataFrame,
    previous: pl.DataFrame | None,
) -> pl.DataFrame:
    """``merges`` (kind, from_customer_id, to_customer_id, identifiers, evidence) with the
    tier of each merge: ``deterministic`` when the deterministic resolution ``first`` already
    holds identifiers of both ids in one cluster, else ``probabilistic`` (a link of this
    module joined them), with the weight of the strongest link between their clusters and its
    evidence before the records'. Splits and retirements have no tier."""
    out = merges.with_columns(
        pl.lit(None, pl.String).alias("link_tier"), pl.lit(None, pl.Float64).alias("match_weight")
    )
    if merges.is_empty() or previous is None or previous.is_empty():
        return out
    prev = previous_map(previous)
    c1_of_key = first.customer_identifiers.filter(~pl.col("is_partial")).select(
        node_key(pl.col("identifier_type"), pl.col("scope"), pl.col("identifier_value")).alias(
            "node_key"
        ),
        pl.col("customer_id").alias("c1"),
    )
    c1_of_id = prev.join(c1_of_key, on="node_key").select("customer_id", "c1").unique()
    rows = out.with_row_index("_row")
    pairs = (
        rows.filter(pl.col("kind") == "merge")
        .select("_row", "from_customer_id", "to_customer_id")
        .join(
            c1_of_id.rename({"customer_id": "from_customer_id", "c1": "c_from"}),
            on="from_customer_id",
        )
        .join(c1_of_id.rename({"customer_id": "to_customer_id", "c1": "c_to"}), on="to_customer_id")
    )
    same = pairs.filter(pl.col("c_from") == pl.col("c_to")).select("_row").unique()
    c1 = _first_cluster(first)
    by_cluster = (
        links.join(c1.rename({"record": "record_l", "c1": "c_l"}), on="record_l")
        .join(c1.rename({"record": "record_r", "c1": "c_r"}), on="record_r")
        .select("c_l", "c_r", "match_weight", "evidence")
    )
    both_ways = pl.concat(
        [
            by_cluster,
            by_cluster.select(
                pl.col("c_r").alias("c_l"), pl.col("c_l").alias("c_r"), "match_weight", "evidence"
            ),
        ]
    )
    # the strongest link between a cluster of the one id and a cluster of the other (through
    # a chain of links when no single link joins them: then the weakest cluster pair is unknown
    # and the strongest link touching either is given)
    direct = strongest(
        pairs.join(both_ways, left_on=["c_from", "c_to"], right_on=["c_l", "c_r"]),
        "_row",
        ["evidence"],
    ).select("_row", "match_weight", "evidence")
    touching = strongest(
        pairs.join(both_ways, left_on="c_from", right_on="c_l"), "_row", ["c_r", "evidence"]
    ).select("_row", "match_weight", "evidence")
    prob = (
        pl.concat([direct, touching.join(direct, on="_row", how="anti")])
        .join(same, on="_row", how="anti")
        .rename({"match_weight": "w", "evidence": "ev"})
    )
    is_merge = pl.col("kind") == "merge"
    return (
        rows.join(prob, on="_row", how="left")
        .with_columns(
            pl.when(is_merge & pl.col("w").is_not_null())
            .then(pl.lit("probabilistic"))
            .when(is_merge)
            .then(pl.lit("deterministic"))
            .alias("link_tier"),
            pl.col("w").alias("match_weight"),
            pl.when(pl.col("w").is_not_null())
            .then(
                pl.concat_str(
                    pl.format(
                        "probabilistic link (match weight {}): {}",
                        pl.col("w").round(2),
                        pl.col("ev"),
                    ),
                    pl.when(pl.col("evidence").is_not_null()).then(
                        pl.lit("; records: ") + pl.col("evidence")
                    ),
                    ignore_nulls=True,
                )
            )
            .otherwise(pl.col("evidence"))
            .alias("evidence"),
        )
        .drop("_row", "w", "ev")
    )


def resolve_linked(
    ids: pl.DataFrame,
    rules: Rules,
    previous: pl.DataFrame | None = None,
    issued_up_to: int = 0,
    attributes: pl.DataFrame | None = None,
    model: dict | None = None,
) -> tuple[Resolution, pl.DataFrame, pl.DataFrame, dict]:
    """Deterministic resolution, then the probabilistic links of this module (when the rules
    enable them and there are names), then the final resolution with those links as the last
    tier. Returns (final Resolution, links, record tiers, stats). ``model``: a trained Splink
    model to predict with instead of training (``models.identity.store``); ``stats["splink"]``
    says what was used (``probabilistic_links``' ``used``); ``stats["rows"]`` holds the rows
    Splink compared (``splink_rows``)."""
    first = resolve(ids, rules, attributes=attributes)
    links, stats = probabilistic_tier(first, rules, attributes, model)
    final, records = finish(ids, rules, first, links, previous, issued_up_to, attributes)
    stats["probabilistic_records"] = int((records["link_tier"] == "probabilistic").sum())
    return final, links, records, stats


def probabilistic_tier(
    first: Resolution,
    rules: Rules,
    attributes: pl.DataFrame | None,
    model: dict | None,
    rows: pl.DataFrame | None = None,
) -> tuple[pl.DataFrame, dict]:
    """The links of ``marketplace_links`` when the rules enable them and there are names,
    and the stats (``splink``: what model was used; ``rows``: the rows compared)."""
    stats: dict = {"probabilistic_enabled": rules.probabilistic.enabled}
    links = pl.DataFrame(schema=LINK_SCHEMA)
    used: dict = {}
    stats["splink"] = used
    stats["rows"] = pl.DataFrame(schema=ROW_SCHEMA)
    if rules.probabilistic.enabled and attributes is not None:
        notes: list[str] = []
        if rows is None:
            rows = splink_rows(first, attributes)
        stats["rows"] = rows
        links, found = marketplace_links(
            first,
            attributes,
            rules.probabilistic.threshold,
            rules.probabilistic.seed,
            notes,
            rules.probabilistic,
            rules.shared.threshold,
            model,
            used,
            rows=rows,
        )
        stats.update(found)
        stats["probabilistic_notes"] = "; ".join(notes)
    return links, stats


def finish(
    ids: pl.DataFrame,
    rules: Rules,
    first: Resolution,
    links: pl.DataFrame,
    previous: pl.DataFrame | None,
    issued_up_to: int,
    attributes: pl.DataFrame | None,
) -> tuple[Resolution, pl.DataFrame]:
    """The final resolution of ``ids`` with ``links`` as the last tier, its link tiers on
    the identifiers and the merges; returns it and the record tiers."""
    final = resolve(
        ids,
        rules,
        previous,
        issued_up_to,
        record_links=links,
        attributes=attributes,
        graph=first.graph,  # the same identifiers and rules: the same graph
    )
    records, id_tiers = link_tiers(first, final, links)
    final.merges = merge_tiers(final.merges, first, links, previous)
    final.customer_identifiers = with_link_tier(final.customer_identifiers, id_tiers)
    return final, records
