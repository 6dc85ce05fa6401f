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

from models.identity.records import probabilistic_links
from models.identity.resolve import Resolution, resolve
from models.identity.rules import Rules

LINK_SCHEMA = {
    "record_l": pl.String,
    "record_r": pl.String,
    "match_weight": pl.Float64,
    "match_probability": pl.Float64,
    "evidence": pl.String,
}
_MASKED = r"^(\d*)\*+(\d*)$"
FUZZY = {"phone_digits": "id", "initial": "surname"}


def _candidates(first: Resolution, attributes: pl.DataFrame) -> pl.DataFrame:
    partial = first.graph.partials.filter(
        (pl.col("identifier_type") == "phone") & pl.col("identifier_value").str.contains(_MASKED)
    ).select(
        "record",
        pl.col("identifier_value").str.extract(_MASKED, 1).alias("head"),
        pl.col("identifier_value").str.extract(_MASKED, 2).alias("tail"),
    )
    masked_names = attributes.filter(
        pl.col("name_key").is_null() & (pl.col("initials").str.len_chars() == 1)
    ).select("record", pl.col("initials").alias("initial"))
    cand = (
        partial.filter((pl.col("head").str.len_chars() + pl.col("tail").str.len_chars()) >= 6)
        .join(masked_names, on="record")
        .join(first.records.select("record", "customer_id"), on="record", how="left")
        .with_columns(pl.coalesce("customer_id", pl.lit("record:") + pl.col("record")).alias("c"))
    )
    return (
        cand.group_by("c", "head", "tail", "initial")
        .agg(pl.col("record").min())
        .with_columns((pl.col("head") + "****" + pl.col("tail")).alias("phone_digits"))
    )


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
        pl.col("customer_id").alias("c"), "record", "initials"
    )
    initials = (
        named.with_columns(pl.col("initials").str.split(""))
        .explode("initials")
        .group_by("c", pl.col("initials").alias("initial"))
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


def marketplace_links(
    first: Resolution,
    attributes: pl.DataFrame,
    threshold: float,
    seed: int = 42,
    notes: list[str] | None = None,
) -> tuple[pl.DataFrame, dict]:
    """Links (record_l = the candidate, record_r = a record of the anchor customer,
    match_weight, match_probability, evidence) from a deterministic resolution ``first``,
    and counts for the asset's metadata."""
    notes = notes if notes is not None else []
    empty = pl.DataFrame(schema=LINK_SCHEMA)
    if first.graph is None or attributes.is_empty():
        return empty, {"candidates": 0}
    cand = _candidates(first, attributes)
    if cand.is_empty():
        return empty, {"candidates": 0}
    templates = cand.select(
        pl.col("head").str.len_chars().cast(pl.Int64).alias("h"),
        pl.col("tail").str.len_chars().cast(pl.Int64).alias("t"),
    ).unique()
    anchors = _anchors(first, attributes, templates)
    rows = pl.concat(
        frame.with_row_index("i").select(
            (pl.lit(prefix) + pl.col("i").cast(pl.String)).alias("record_id"),
            "phone_digits",
            "initial",
            "c",
            "record",
        )
        for prefix, frame in (("c", cand), ("a", anchors))
    )
    scored = probabilistic_links(
        rows.select("record_id", *FUZZY),
        FUZZY,
        threshold=threshold,
        seed=seed,
        notes=notes,
        strict=[list(FUZZY)],
    )
    side = rows.select("record_id", "c", pl.col("record").alias("rec"), "phone_digits", "initial")
    pairs = (
        scored.join(side.rename(lambda x: f"{x}_l"), left_on="record_l", right_on="record_id_l")
        .join(side.rename(lambda x: f"{x}_r"), left_on="record_r", right_on="record_id_r")
        .with_columns(
            pl.col("record_l").str.starts_with("c").alias("l_is_candidate"),
            pl.col("record_r").str.starts_with("c").alias("r_is_candidate"),
        )
        .filter(pl.col("l_is_candidate") != pl.col("r_is_candidate"))
    )
    # orient: candidate on the left
    swap = pl.col("r_is_candidate")
    oriented = pairs.select(
        *[
            pl.when(swap).then(pl.col(f"{x}_r")).otherwise(pl.col(f"{x}_l")).alias(f"{x}_cand")
            for x in ("c", "rec", "phone_digits", "initial")
        ],
        *[
            pl.when(swap).then(pl.col(f"{x}_l")).otherwise(pl.col(f"{x}_r")).alias(f"{x}_anchor")
            for x in ("c", "rec", "phone_digits", "initial")
        ],
        "match_weight",
        "match_probability",
    ).filter(
        (pl.col("phone_digits_cand") == pl.col("phone_digits_anchor"))
        & (pl.col("initial_cand") == pl.col("initial_anchor"))
        & (pl.col("c_cand") != pl.col("c_anchor"))
    )
    per_candidate = oriented.group_by("rec_cand").agg(
        pl.col("c_anchor").n_unique().alias("customers")
    )
    ambiguous = per_candidate.filter(pl.col("customers") > 1)
    links = (
        oriented.join(ambiguous, on="rec_cand", how="anti")
        .sort("match_weight", descending=True)
        .unique("rec_cand", keep="first")
        .sort("rec_cand")
        .select(
            pl.col("rec_cand").alias("record_l"),
            pl.col("rec_anchor").alias("record_r"),
            "match_weight",
            "match_probability",
            pl.format(
                "masked phone {} and name initial {} match a customer's full phone and name",
                pl.col("phone_digits_cand"),
                pl.col("initial_cand"),
            ).alias("evidence"),
        )
    )
    stats = {
        "candidates": cand.height,
        "anchors": anchors.height,
        "scored_pairs": scored.height,
        "ambiguous_candidates": ambiguous.height,
        "links": links.height,
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
    - per identifier (identifier_type, scope, identifier_value, is_partial, link_tier,
      match_weight): the same, for the identifiers of those clusters.
    """
    c1 = _first_cluster(first)
    cust = final.records.select("record", "customer_id")
    accepted = (
        links.join(cust.rename({"record": "record_l", "customer_id": "c_l"}), on="record_l")
        .join(cust.rename({"record": "record_r", "customer_id": "c_r"}), on="record_r")
        .filter(pl.col("c_l") == pl.col("c_r"))
        .join(c1.rename({"record": "record_l"}), on="record_l")
        .sort("match_weight", descending=True)
        .unique("c1", keep="first")
        .select("c1", "match_weight", "match_probability", "evidence")
    )
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
    identifiers = (
        first_ids.join(accepted, on="c1")
        .group_by("identifier_type", "scope", "identifier_value", "is_partial")
        .agg(pl.col("match_weight").max())
        .with_columns(pl.lit("probabilistic").alias("link_tier"))
    )
    return records, identifiers


def with_link_tier(customer_identifiers: pl.DataFrame, tiers: pl.DataFrame) -> pl.DataFrame:
    """``customer_identifiers`` with link_tier (deterministic | probabilistic) and
    match_weight (of the probabilistic link that brought the identifier, else null)."""
    keys = ["identifier_type", "scope", "identifier_value", "is_partial"]
    joined = customer_identifiers.join(
        tiers, on=keys, how="left", nulls_equal=True, maintain_order="left"
    )
    return joined.with_columns(pl.col("link_tier").fill_null("deterministic"))


def resolve_linked(
    ids: pl.DataFrame,
    rules: Rules,
    previous: pl.DataFrame | None = None,
    issued_up_to: int = 0,
    attributes: pl.DataFrame | None = None,
) -> tuple[Resolution, pl.DataFrame, pl.DataFrame, dict]:
    """Deterministic resolution, then the probabilistic links of this module (when the rules
    enable them and there are names), then the final resolution with those links as the last
    tier. Returns (final Resolution, links, record tiers, stats)."""
    first = resolve(ids, rules, attributes=attributes)
    stats: dict = {"probabilistic_enabled": rules.probabilistic.enabled}
    links = pl.DataFrame(schema=LINK_SCHEMA)
    if rules.probabilistic.enabled and attributes is not None:
        notes: list[str] = []
        links, found = marketplace_links(
            first, attributes, rules.probabilistic.threshold, rules.probabilistic.seed, notes
        )
        stats.update(found)
        stats["probabilistic_notes"] = "; ".join(notes)
    final = resolve(ids, rules, previous, issued_up_to, record_links=links, attributes=attributes)
    records, id_tiers = link_tiers(first, final, links)
    final.customer_identifiers = with_link_tier(final.customer_identifiers, id_tiers)
    stats["probabilistic_records"] = int((records["link_tier"] == "probabilistic").sum())
    return final, links, records, stats
