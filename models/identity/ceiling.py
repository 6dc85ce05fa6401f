"""The evidence ceiling: the best pairwise recall any resolver could reach on these records.

Evaluation only, like :mod:`models.identity.evaluate`: the pipeline never calls it.

A resolver can put two records together only when the data connects them. The ceiling takes
every piece of evidence the records themselves carry (found without the truth) and keeps, of
each, only the links between records of one true person (the truth decides nothing else); the
connected components of what is left are the best clustering any method could produce from
that evidence at precision 1. Its pairwise recall is the ceiling; a resolver's recall divided
by it says how much of what is linkable it links.

Evidence, in two layers:

- ``exact``: two records carry the same identifier (canonical type, scope where the type is
  scoped, normalised value; aliases folded as the rules fold them). Partial values (masked
  phones, relay e-mails) are not exact evidence; blocklisted values (all zeros, default
  phones, a store's shared card: never identifiers) are not either. Shared values (a family
  phone) are: kept only between one person's records, they are evidence a method could use.
- ``fuzzy``: the partial evidence the probabilistic tier reads, at its strongest: a record
  whose phone is masked (``138****5678``, at least 6 digits visible) and whose name shows one
  letter links to a person's group of exactly linked records that holds a full phone with
  those visible digits and a name with that letter; two such masked records with the same
  digits, letter and delivery place (city and district) link to each other.

Nicknames, lone device or cookie ids, and other per-platform ids seen on one record only are
no evidence: no method can join them without guessing.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import polars as pl

from models.identity.cluster import components
from models.identity.evaluate import known_records, truth_records, warehouse_records
from models.identity.graph import _typed, node_key
from models.identity.marketplace import masked_phones
from models.identity.metrics import PairScores, pairwise_scores
from models.identity.rules import Rules

_MIN_VISIBLE = 6


@dataclass(frozen=True)
class Ceiling:
    exact: PairScores  # the ceiling from shared identifiers alone
    fuzzy: PairScores  # ... and the masked-phone evidence
    stats: dict
    groups: pl.DataFrame  # record, group: the ceiling's clustering (one person's evidence)

    @property
    def recall(self) -> float:
        return self.fuzzy.recall

    def metadata(self, recall: float | None = None) -> dict:
        out = {
            "evidence_ceiling_recall": round(self.fuzzy.recall, 4),
            "evidence_ceiling_recall_exact_only": round(self.exact.recall, 4),
            "evidence_ceiling_groups": self.fuzzy.clusters,
            **self.stats,
        }
        if recall is not None:
            out["recall_of_ceiling"] = (
                round(recall / self.fuzzy.recall, 4) if self.fuzzy.recall else 1.0
            )
        return out


def _component_labels(records: list[str], links: pl.DataFrame) -> pl.DataFrame:
    """record -> component (int) of the record graph ``links`` (a, b record keys)."""
    index = (
        pl.DataFrame({"record": records})
        .with_row_index("i")
        .with_columns(pl.col("i").cast(pl.Int64))
    )
    if links.is_empty():
        return index.select("record", pl.col("i").alias("group"))
    pairs = links.join(index.rename({"record": "a", "i": "u"}), on="a").join(
        index.rename({"record": "b", "i": "v"}), on="b"
    )
    labels = components(index.height, pairs["u"].to_numpy(), pairs["v"].to_numpy())
    return index.select("record").with_columns(pl.Series("group", labels, dtype=pl.Int64))


def _star(frame: pl.DataFrame, by: list[str]) -> pl.DataFrame:
    """Links (a, b) joining every record of each ``by`` group to the group's first record."""
    return (
        frame.select(*by, "record")
        .unique()
        .with_columns(pl.col("record").min().over(by).alias("a"))
        .filter(pl.col("a") != pl.col("record"))
        .select("a", pl.col("record").alias("b"))
    )


def evidence_ceiling(
    known: pl.DataFrame,
    ids: pl.DataFrame,
    rules: Rules,
    attributes: pl.DataFrame | None = None,
) -> Ceiling:
    """The ceiling (see the module docstring) over ``known`` (record, person_id: the records
    the recall is measured on). ``ids``: the long identifiers (record, identifier_type,
    identifier_value, scope, is_partial); ``attributes``: record, name_key, initials, city,
    district (models.identity.attributes), for the fuzzy layer."""
    known = known.select(pl.col("record").cast(pl.String), pl.col("person_id").cast(pl.String))
    known = known.unique("record")
    records = sorted(known["record"].to_list())
    typed = _typed(ids.filter(pl.col("record").is_in(records)), rules).filter(
        pl.col("identifier_type").is_not_null()
    )
    blocked = [
        (t, v)
        for t, v in typed.select("identifier_type", "identifier_value").unique().iter_rows()
        if rules.block_reason(t, v) is not None
    ]
    junk = pl.DataFrame(
        blocked, schema={"identifier_type": pl.String, "identifier_value": pl.String}, orient="row"
    )
    exact = (
        typed.filter(~pl.col("is_partial"))
        .join(junk, on=["identifier_type", "identifier_value"], how="anti")
        .with_columns(
            node_key(pl.col("identifier_type"), pl.col("scope"), pl.col("identifier_value")).alias(
                "key"
            )
        )
        .join(known, on="record")
    )
    exact_links = _star(exact, ["key", "person_id"])
    groups = _component_labels(records, exact_links)
    exact_scores = pairwise_scores(groups.join(known, on="record"), "group", "person_id")

    fuzzy_links = pl.DataFrame(schema={"a": pl.String, "b": pl.String})
    stats = {"evidence_exact_links": exact_links.height}
    if attributes is not None and not attributes.is_empty():
        fuzzy_links = _fuzzy_links(typed, attributes, known, groups)
    stats["evidence_fuzzy_links"] = fuzzy_links.height
    final = _component_labels(records, pl.concat([exact_links, fuzzy_links]))
    fuzzy_scores = pairwise_scores(final.join(known, on="record"), "group", "person_id")
    return Ceiling(exact_scores, fuzzy_scores, stats, final)


def _fuzzy_links(
    typed: pl.DataFrame, attributes: pl.DataFrame, known: pl.DataFrame, groups: pl.DataFrame
) -> pl.DataFrame:
    attributes = attributes.with_columns(
        pl.lit(None, pl.String).alias(c)
        for c in ("city", "district")
        if c not in attributes.columns
    )
    masked = masked_phones(typed).filter(
        pl.col("head").str.len_chars() + pl.col("tail").str.len_chars() >= _MIN_VISIBLE
    )
    letter = attributes.filter(
        pl.col("name_key").is_null() & (pl.col("initials").str.len_chars() == 1)
    ).select(
        "record",
        pl.col("initials").alias("letter"),
        pl.concat_str(["city", "district"], separator=" ", ignore_nulls=True).alias("place"),
    )
    cand = (
        masked.join(letter, on="record")
        .join(known, on="record")
        .join(groups, on="record")
        .with_columns(
            (pl.col("head") + "*" + pl.col("tail")).alias("digits"),
            pl.col("head").str.len_chars().alias("h"),
            pl.col("tail").str.len_chars().alias("t"),
        )
    )
    if cand.is_empty():
        return pl.DataFrame(schema={"a": pl.String, "b": pl.String})
    # each group's full mainland phones, masked like the candidates, and its names' letters
    templates = cand.select("h", "t").unique()
    phones = (
        typed.filter(
            (pl.col("identifier_type") == "phone")
            & ~pl.col("is_partial")
            & pl.col("identifier_value").str.starts_with("+86")
        )
        .select("record", pl.col("identifier_value").str.slice(3).alias("national"))
        .join(groups, on="record")
        .join(templates, how="cross")
        .filter(pl.col("national").str.len_chars() > pl.col("h") + pl.col("t"))
        .select(
            "group",
            (
                pl.col("national").str.slice(0, pl.col("h"))
                + "*"
                + pl.col("national").str.slice(-pl.col("t").cast(pl.Int64))
            ).alias("digits"),
            pl.col("record").alias("anchor"),
        )
    )
    letters = (
        attributes.filter(pl.col("name_key").is_not_null())
        .join(groups, on="record")
        .select("group", pl.col("initials").str.split("").alias("letter"))
        .explode("letter")
        .unique()
    )
    anchors = (
        phones.join(letters, on="group")
        .group_by("group", "digits", "letter")
        .agg(pl.col("anchor").min())
    )
    # to an anchor of the same person's group
    anchor_person = anchors.join(
        groups.join(known, on="record").select("group", "person_id").unique(), on="group"
    )
    to_anchor = cand.join(anchor_person, on=["person_id", "digits", "letter"]).select(
        pl.col("record").alias("a"), pl.col("anchor").alias("b")
    )
    # between masked records: same digits, letter and place
    between = _star(
        cand.filter(pl.col("place") != "").select(
            "record", "person_id", "digits", "letter", "place"
        ),
        ["person_id", "digits", "letter", "place"],
    )
    return pl.concat([to_anchor, between]).unique()


def breakdown_of_misses(
    known: pl.DataFrame, resolved: pl.DataFrame, ceiling_groups: pl.DataFrame
) -> pl.DataFrame:
    """Pairs the evidence links but the resolver left apart: per (person, evidence group), the
    resolver's customers inside it. ``resolved``: record, customer_id; ``ceiling_groups``:
    record, group."""
    frame = (
        known.join(resolved, on="record", how="left")
        .join(ceiling_groups, on="record")
        .with_columns(pl.coalesce("customer_id", pl.lit("record:") + pl.col("record")).alias("c"))
    )
    cells = frame.group_by("group", "c").len("n")
    per_group = cells.group_by("group").agg(
        pl.col("n").sum().alias("records"),
        pl.len().alias("customers"),
        ((pl.col("n").sum() ** 2 - (pl.col("n") ** 2).sum()) // 2).alias("missed_pairs"),
    )
    return per_group.filter(pl.col("customers") > 1).sort("missed_pairs", descending=True)


def ceiling_warehouse(
    con, truth_dir: Path, ids: pl.DataFrame, attributes: pl.DataFrame, rules: Rules
) -> dict | None:
    """The ceiling of the warehouse's resolution (identity.record_customers) as asset
    metadata, beside the missed pairs the evidence links; None without a truth."""
    truth = truth_records(truth_dir)
    if truth is None:
        return None
    known = known_records(warehouse_records(con), truth)
    ceiling = evidence_ceiling(known.select("record", "person_id"), ids, rules, attributes)
    resolved = pairwise_scores(known, "customer_id", "person_id")
    missed = breakdown_of_misses(
        known.select("record", "person_id"), known.select("record", "customer_id"), ceiling.groups
    )
    return {
        **ceiling.metadata(resolved.recall),
        "linkable_pairs_missed": int(missed["missed_pairs"].sum()),
    }
