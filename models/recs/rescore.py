"""A new day's lists: only the customers whose inputs changed since the stored lists were made
are scored again; every other customer in scope keeps the list of the previous run.

Why: a new day touches a few customers, yet scoring every customer (candidates, features and
the ranker's predict for each) was most of the ``recommendations`` step's cost on a new day
(bench/README.md, "Incremental"). What a customer's list depends on is of two kinds:

- their own inputs: their interactions (orders, product events), their segment, usual
  channel, preferred store and its city, their e-mail consent; and whether their stored list
  still passes the serving rules today (stock on their channel or near their store, the
  channel's listing, durables bought lately, the SKU's category for diversity);
- everyone's data, through the components: popularity, recent popularity and trends, the
  item-kNN similarities, item cycles, and the day itself (due-ness, days since).

An incremental run (the `zhongtai materialize --incremental` and lake-sensor runs) scores the
customers with a change of the first kind (:func:`changed_customers`, each with its reason)
with today's components; the others keep their stored lists, whose second-kind inputs are then
as old as the last full scoring: at most ``full_every`` days of data, the ranker's weekly
refit (a refit scores everyone). A full build, a refit, other serving settings, lists that do
not match their stored inputs, or the switch (``RecsRunConfig.rescore_all``) score everyone
(:func:`why_full`). What the older components change in the lists of the customers not scored
again is measured in bench/README.md ("The recommendations of a new day").

The state is kept in the warehouse beside the lists (schema ``recs``): ``list_inputs`` (one
row per customer in scope: the fingerprint of their interactions, segment, channel, store,
city, consent, the data day their list was scored) and ``list_runs`` (one row: the run's data
day, the last full scoring's, the ranker's ``fitted_at``, the serving settings, the number of
list rows written). Pure functions on polars frames, so each rule is tested on hand-made rows.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass

import polars as pl

from models.recs.serving import eligible
from models.recs.store import date_of
from models.recs.warehouse import LIST_SCHEMA, table_exists

INPUTS_TABLE = "list_inputs"
# the stored lists of customers not scored again are at most this many days of data older
# than a full scoring (the asset passes the ranker's refit cadence: a refit scores everyone)
FULL_EVERY = 7
RUNS_TABLE = "list_runs"

# why a customer is scored again, in the order a customer with several is counted under
NEW = "new in scope"
INTERACTIONS = "new or changed interactions"
PROFILE = "segment, channel or store changed"
CONSENT = "e-mail consent changed"
RULES = "stored list breaks a serving rule"
CATALOGUE = "stored list has a SKU no longer in the catalogue or of another category"
SHORT = "stored list shorter than the list length"
REASONS = (NEW, INTERACTIONS, PROFILE, CONSENT, RULES, CATALOGUE, SHORT)

# what the customers' lists are compared on (besides the interactions' fingerprint)
PROFILE_COLUMNS = ("segment", "channel", "store", "city")
INPUTS_SCHEMA = {
    "customer_id": pl.String,
    "interactions": pl.Int64,
    "fingerprint_lo": pl.UInt64,
    "fingerprint_hi": pl.UInt64,
    "segment": pl.String,
    "channel": pl.String,
    "store": pl.String,
    "city": pl.String,
    "email_consent": pl.Boolean,
    "scored_now": pl.Float64,
}


@dataclass
class Previous:
    """What the last run left: its lists (``recs.recommendations``), the inputs they were
    scored from (``recs.list_inputs``) and the run's row (``recs.list_runs``)."""

    lists: pl.DataFrame
    inputs: pl.DataFrame
    run: dict


@dataclass
class DayLists:
    """A run's lists and the state to store beside them."""

    recs: pl.DataFrame
    removed: dict  # rows the rules removed, by reason (of the customers scored)
    inputs: pl.DataFrame  # recs.list_inputs
    run: pl.DataFrame  # recs.list_runs
    rescored: pl.DataFrame  # customer_id, reason: the customers scored this run
    full_reason: str | None  # why everyone was scored (None: only the changed customers)

    def metadata(self) -> dict:
        """``scoring`` (full, with the reason, or changed customers), ``rescored``,
        ``kept``, ``rescored_by_reason``, ``oldest_kept_list`` (data day)."""
        kept = self.inputs.filter(~pl.col("customer_id").is_in(self.rescored["customer_id"]))
        by = dict(self.rescored.group_by("reason").len().sort("reason").iter_rows())
        oldest = kept["scored_now"].min() if kept.height else None
        return {
            "scoring": f"full: {self.full_reason}"
            if self.full_reason
            else "changed customers only",
            "rescored": self.rescored.height,
            "kept": kept.height,
            "rescored_by_reason": by,
            "oldest_kept_list": str(date_of(oldest)) if oldest is not None else "",
        }


def fingerprints(frame: pl.DataFrame) -> pl.DataFrame:
    """customer_id, interactions, fingerprint_lo, fingerprint_hi: per customer the number of
    their interaction rows and two sums of the rows' hashes (of every column but the user):
    any row added, removed or changed changes them (the order of the rows does not)."""
    cols = sorted(c for c in frame.columns if c != "user")
    h = pl.struct(cols).hash(seed=7)
    return (
        frame.group_by("user")
        .agg(
            pl.len().cast(pl.Int64).alias("interactions"),
            (h % (1 << 32)).sum().cast(pl.UInt64).alias("fingerprint_lo"),
            (h // (1 << 32)).sum().cast(pl.UInt64).alias("fingerprint_hi"),
        )
        .rename({"user": "customer_id"})
    )


def customer_inputs(customers: pl.DataFrame, frame: pl.DataFrame, consented) -> pl.DataFrame:
    """One row per customer in scope (``customers``: customer_id, segment, channel, store,
    city) with the fingerprint of their interactions (``frame``) and their e-mail consent
    (``consented``: the customer ids whose latest e-mail consent is granted)."""
    consent = pl.DataFrame({"customer_id": pl.Series(consented, dtype=pl.String)})
    out = (
        customers.select("customer_id", *PROFILE_COLUMNS)
        .with_columns(pl.col(c).cast(pl.String) for c in PROFILE_COLUMNS)
        .join(fingerprints(frame), on="customer_id", how="left")
        .with_columns(
            pl.col("interactions").fill_null(0),
            pl.col("fingerprint_lo").fill_null(0),
            pl.col("fingerprint_hi").fill_null(0),
            pl.col("customer_id").is_in(consent["customer_id"].implode()).alias("email_consent"),
            pl.lit(None, pl.Float64).alias("scored_now"),
        )
    )
    return out.select([pl.col(c).cast(t) for c, t in INPUTS_SCHEMA.items()])


def why_full(
    previous: Previous | None, now: float, fitted_at: str, settings: dict, full_every: int
) -> str | None:
    """Why the stored lists cannot be carried over to data ending at ``now`` (None: they can,
    for the customers whose inputs did not change): none stored, not the lists their inputs
    describe, another ranker or other settings, the last full scoring ``full_every`` days of
    data old or more, or data that ends before them."""
    if previous is None:
        return "no stored lists"
    run = previous.run
    if previous.lists.height != run.get("rows"):
        return (
            f"the stored lists have {previous.lists.height} rows, their inputs say "
            f"{run.get('rows')} (changed since they were written)"
        )
    if run.get("fitted_at") != fitted_at:
        return f"the ranker changed: lists of the fit of {run.get('fitted_at')}, now {fitted_at}"
    if run.get("settings") != json.dumps(settings, sort_keys=True):
        return f"serving settings changed: {run.get('settings')} -> {json.dumps(settings)}"
    if now < run["now"]:
        return f"the data ends ({date_of(now)}) before the stored lists ({date_of(run['now'])})"
    age = math.floor(now) - math.floor(run["full_now"])
    if age >= full_every:
        return f"the last full scoring is {age} days of data old (cadence {full_every} days)"
    return None


def changed_customers(
    previous: Previous,
    current: pl.DataFrame,
    customers: pl.DataFrame,
    availability: pl.DataFrame,
    assortment: pl.DataFrame,
    durables: pl.DataFrame,
    products: pl.DataFrame,
    n: int,
) -> pl.DataFrame:
    """customer_id, reason: the customers of ``current`` (``customer_inputs`` of today) whose
    list must be scored again, each under the first of ``REASONS`` that applies: new in scope,
    other interactions, another segment / channel / store / city, another e-mail consent, a
    stored list that today's rules (stock, listing, durables: ``serving.eligible``) would cut,
    with a SKU gone from the catalogue or moved to another category (diversity), or shorter
    than ``n`` (new stock may fill it)."""
    was = previous.inputs.select(
        "customer_id",
        *[
            pl.col(c).alias(f"_was_{c}")
            for c in (
                "interactions",
                "fingerprint_lo",
                "fingerprint_hi",
                "email_consent",
                *PROFILE_COLUMNS,
            )
        ],
    )
    joined = current.join(was, on="customer_id", how="left")
    differs = [
        pl.col(c).ne_missing(pl.col(f"_was_{c}").cast(current.schema[c]))
        for c in ("interactions", "fingerprint_lo", "fingerprint_hi")
    ]
    profile = [pl.col(c).ne_missing(pl.col(f"_was_{c}").cast(pl.String)) for c in PROFILE_COLUMNS]
    first = joined.select(
        "customer_id",
        pl.when(pl.col("_was_interactions").is_null())
        .then(pl.lit(NEW))
        .when(pl.any_horizontal(differs))
        .then(pl.lit(INTERACTIONS))
        .when(pl.any_horizontal(profile))
        .then(pl.lit(PROFILE))
        .when(pl.col("email_consent").ne_missing(pl.col("_was_email_consent")))
        .then(pl.lit(CONSENT))
        .otherwise(None)
        .alias("reason"),
    )
    # the stored lists of the others, against today's rules and catalogue
    others = first.filter(pl.col("reason").is_null())["customer_id"]
    lists = previous.lists.filter(pl.col("customer_id").is_in(others.implode()))
    checked = eligible(
        lists.select("customer_id", "sku"), customers, availability, assortment, durables
    )
    broken = checked.filter(pl.col("removed").is_not_null()).select("customer_id").unique()
    cats = products.select(
        "sku", pl.col("category").cast(pl.String).alias("_now"), pl.lit(True).alias("_known")
    )
    moved = (
        lists.select("customer_id", "sku", pl.col("category").cast(pl.String))
        .join(cats, on="sku", how="left")
        .filter(pl.col("_known").is_null() | pl.col("category").ne_missing(pl.col("_now")))
        .select("customer_id")
        .unique()
    )
    short = lists.group_by("customer_id").len().filter(pl.col("len") < n).select("customer_id")
    # a customer of ``current`` without a stored list (it had none: nothing was eligible)
    listless = others.filter(~others.is_in(lists["customer_id"].unique().implode()))
    rule = pl.col("customer_id")
    out = first.with_columns(
        pl.when(pl.col("reason").is_not_null())
        .then(pl.col("reason"))
        .when(rule.is_in(broken["customer_id"].implode()))
        .then(pl.lit(RULES))
        .when(rule.is_in(moved["customer_id"].implode()))
        .then(pl.lit(CATALOGUE))
        .when(rule.is_in(short["customer_id"].implode()) | rule.is_in(listless.implode()))
        .then(pl.lit(SHORT))
        .otherwise(None)
        .alias("reason")
    )
    return out.filter(pl.col("reason").is_not_null())


def as_lists(frame: pl.DataFrame) -> pl.DataFrame:
    """``frame`` in the columns and types of ``recs.recommendations``, by customer and rank."""
    return frame.select([pl.col(c).cast(t) for c, t in LIST_SCHEMA.items()]).sort(
        "customer_id", "rank"
    )


def day_lists(
    inputs,
    model,
    consented,
    previous: Previous | None,
    full_reason: str | None,
    fitted_at: str,
    n: int,
    max_per_category: int,
    full_every: int = FULL_EVERY,
) -> DayLists:
    """The lists of a run: every customer in scope scored when ``full_reason`` says so (a full
    build, a refit, the switch) or :func:`why_full` finds the stored lists unusable; else the
    changed customers scored (``inputs.serve`` on them) and the stored lists of the others.
    ``inputs``: ``warehouse.ServingInputs``; ``fitted_at``: the ranker's (its manifest's)."""
    settings = {"per_customer": n, "max_per_category": max_per_category}
    now = inputs.now
    current = customer_inputs(inputs.customers, inputs.frame, consented)
    if full_reason is None:
        full_reason = why_full(previous, now, fitted_at, settings, full_every)
    if full_reason is not None:
        recs, removed = inputs.serve(model, n, max_per_category)
        rescored = current.select("customer_id", pl.lit("full scoring").alias("reason"))
        full_now = now
        kept = None
    else:
        rescored = changed_customers(
            previous,
            current,
            inputs.customers,
            inputs.availability,
            inputs.assortment,
            inputs.durables,
            inputs.products,
            n,
        )
        chosen = rescored["customer_id"].implode()
        if rescored.height:
            scope = inputs.customers.filter(pl.col("customer_id").is_in(chosen))
            recs, removed = inputs.serve(model, n, max_per_category, scope)
        else:
            recs, removed = pl.DataFrame(schema=LIST_SCHEMA), {}
        kept = previous.lists.filter(
            pl.col("customer_id").is_in(current["customer_id"].implode())
            & ~pl.col("customer_id").is_in(chosen)
        )
        full_now = previous.run["full_now"]
    lists = (
        as_lists(recs) if kept is None else as_lists(pl.concat([as_lists(kept), as_lists(recs)]))
    )
    when = (
        previous.inputs.select("customer_id", pl.col("scored_now").alias("_was"))
        if (previous is not None and full_reason is None)
        else pl.DataFrame(schema={"customer_id": pl.String, "_was": pl.Float64})
    )
    state = (
        current.drop("scored_now")
        .join(when, on="customer_id", how="left")
        .with_columns(
            pl.when(pl.col("customer_id").is_in(rescored["customer_id"].implode()))
            .then(pl.lit(now))
            .otherwise(pl.col("_was"))
            .alias("scored_now")
        )
        .select(list(INPUTS_SCHEMA))
    )
    run = pl.DataFrame(
        {
            "now": [now],
            "full_now": [float(full_now)],
            "fitted_at": [fitted_at],
            "settings": [json.dumps(settings, sort_keys=True)],
            "rows": [lists.height],
        }
    )
    return DayLists(lists, removed, state, run, rescored, full_reason)


def read_previous(con, schema: str = "recs") -> Previous | None:
    """The last run's lists and their state from the warehouse; None when any is missing
    (the first run, or lists written before the state was kept)."""
    names = ("recommendations", INPUTS_TABLE, RUNS_TABLE)
    if not all(table_exists(con, schema, t) for t in names):
        return None
    runs = con.sql(f"select * from {schema}.{RUNS_TABLE}").pl()
    if runs.height != 1:
        return None
    lists = con.sql(f"select * from {schema}.recommendations").pl()
    if set(lists.columns) != set(LIST_SCHEMA):
        return None
    return Previous(
        lists=lists,
        inputs=con.sql(f"select * from {schema}.{INPUTS_TABLE}").pl(),
        run=runs.row(0, named=True),
    )
