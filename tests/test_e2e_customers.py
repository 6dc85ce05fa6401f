"""End to end, the customer marts against the demo truth: customer_360 keeps its promised
columns, and for every person that identity resolution resolved fully (all their real orders
on one customer_id that holds no one else's) the 360's orders, units, sales and refunds equal
what the generator says the person bought; consent per purpose equals the person's latest
consent records of every source (the CRM file, the mini-program's subscribe answers, the
cookie banner's log), the most restrictive across their identifiers."""

from __future__ import annotations

import csv
import datetime as dt

import polars as pl
import pytest

from ingest import tombstones
from ingest.config import DBT_PROJECT_DIR, DataPaths
from ingest.identifiers import normalize_id
from tests.test_end_to_end import _warehouse

# The columns other parts read (tags and segments, recommendations): names stay stable.
CUSTOMER_360_COLUMNS = [
    "customer_id", "first_order_date", "last_order_date", "orders", "units", "revenue_cny",
    "aov_cny", "recency_days", "r_score", "f_score", "m_score", "rfm_segment",
    "ltv_estimate_cny", "channels_used", "channels", "first_channel", "preferred_channel",
    "preferred_store", "top_category", "promo_share", "live_sessions_watched",
    "live_add_to_carts", "hosts_followed", "social_interactions", "is_member", "member_tier",
    "points_balance", "consent_email", "consent_sms", "consent_wechat", "consent_ads",
    "is_omnichannel", "is_cross_border_buyer", "is_store_only", "computed_at",
]  # fmt: skip
REAL = ["paid", "shipped", "completed"]


@pytest.fixture(scope="module")
def paths(built_demo) -> DataPaths:
    return built_demo[0]


def _with_rate(frame: pl.DataFrame, day: str) -> pl.DataFrame:
    """Attach to each row the shipped reference rate (an input of the pipeline, not one of its
    results) of the latest month listed for its currency up to ``day``, else the earliest."""
    rows = list(csv.DictReader((DBT_PROJECT_DIR / "seeds" / "fx_rates_monthly.csv").open()))
    fx = pl.DataFrame(
        {
            "currency": [r["currency"] for r in rows],
            "month": [dt.date.fromisoformat(r["month"]) for r in rows],
            "rate": [float(r["rate_to_cny"]) for r in rows],
        }
    ).sort("month")
    frame = frame.with_row_index("_row").sort(day)
    back = frame.join_asof(
        fx,
        left_on=day,
        right_on="month",
        by="currency",
        strategy="backward",
        check_sortedness=False,
    )
    ahead = frame.join_asof(
        fx, left_on=day, right_on="month", by="currency", strategy="forward", check_sortedness=False
    )
    return (
        back.with_columns(pl.col("rate").fill_null(ahead["rate"]))
        .sort("_row")
        .drop("_row", "month")
    )


@pytest.fixture(scope="module")
def resolved(paths) -> pl.DataFrame:
    """Persons whose real orders all sit on one customer_id that holds only their orders:
    person_id, customer_id, and the truth's orders, units, sales_cny and refunds_cny."""
    lines = pl.read_parquet(paths.truth / "sales_lines.parquet").filter(
        pl.col("person_id").is_not_null()
        & ~pl.col("is_test")
        & ~pl.col("is_brushing")
        & pl.col("status").is_in(REAL)
    )
    orders = (
        _with_rate(lines, "business_date")
        .group_by("channel", "order_id", "person_id", "rate")
        .agg(pl.col("quantity").sum(), pl.col("net_amount").cast(pl.Float64).sum())
        .with_columns((pl.col("net_amount") * pl.col("rate")).round(2).alias("sales_cny"))
    )
    assert orders["rate"].null_count() == 0, "a truth currency/month has no reference rate"
    refunds = (
        pl.read_parquet(paths.truth / "returns.parquet")
        .filter(pl.col("channel") != "pos")  # POS return receipts name no original receipt
        .group_by("channel", "order_id")
        .agg(pl.col("amount").cast(pl.Float64).sum().alias("refund"))
    )
    orders = orders.join(refunds, on=["channel", "order_id"], how="left").with_columns(
        (pl.col("refund").fill_null(0.0) * pl.col("rate")).round(2).alias("refunds_cny")
    )
    got = _warehouse(
        paths,
        "select channel, order_id, customer_id from marts.fct_orders where not is_test "
        "and not is_flagged_test and not is_brushing_suspect "
        "and status in ('paid', 'shipped', 'completed')",
    ).with_columns(pl.col("order_id").str.split(" ").list.last())
    joined = orders.join(got, on=["channel", "order_id"], how="left")
    per_person = joined.group_by("person_id").agg(
        pl.col("customer_id").n_unique().alias("ids"),
        pl.col("customer_id").null_count().alias("unlinked"),
        pl.col("customer_id").first(),
        pl.len().alias("orders"),
        pl.col("quantity").sum().alias("units"),
        pl.col("sales_cny").sum(),
        pl.col("refunds_cny").sum(),
    )
    customer_orders = got.group_by("customer_id").len("customer_orders")
    return (
        per_person.filter((pl.col("ids") == 1) & (pl.col("unlinked") == 0))
        .join(customer_orders, on="customer_id")
        .filter(pl.col("customer_orders") == pl.col("orders"))
        .drop("ids", "unlinked", "customer_orders")
    )


def test_customer_360_has_one_row_per_customer_and_its_promised_columns(paths):
    c360 = _warehouse(paths, "select * from marts.customer_360")
    assert [c for c in CUSTOMER_360_COLUMNS if c not in c360.columns] == []
    customers = _warehouse(paths, "select customer_id from marts.dim_customers")
    assert c360.height == customers.height == c360["customer_id"].n_unique()
    buyers = c360.filter(pl.col("orders") > 0)
    assert buyers.height > 100
    # every score is 1-5 and every quintile is used somewhere
    for score in ("r_score", "m_score"):
        assert sorted(buyers[score].unique().to_list()) == [1, 2, 3, 4, 5], score
    assert buyers["rfm_segment"].n_unique() >= 6
    assert (c360.filter(pl.col("orders") == 0)["rfm_segment"] == "prospect").all()
    # the demo has omnichannel, cross-border and live-commerce customers
    assert c360["is_omnichannel"].sum() > 0 and c360["is_cross_border_buyer"].sum() > 0
    assert c360["live_sessions_watched"].sum() > 0 and c360["is_member"].sum() > 0


def test_revenue_per_fully_resolved_person_equals_what_they_bought(paths, resolved):
    buyers = (
        pl.read_parquet(paths.truth / "sales_lines.parquet")
        .filter(pl.col("person_id").is_not_null())["person_id"]
        .n_unique()
    )
    # a sample worth the name: persons split over several customer_ids (identity recall) or
    # with store receipts no identifier links are left out, so this is a floor, not a target
    assert resolved.height > 0.2 * buyers and resolved.height >= 30, (resolved.height, buyers)
    c360 = _warehouse(
        paths,
        "select customer_id, orders, units, cast(sales_cny as double) as sales, "
        "cast(returned_cny as double) as returned, cast(revenue_cny as double) as revenue "
        "from marts.customer_360",
    )
    both = resolved.join(c360, on="customer_id", how="left")
    assert both["orders_right"].null_count() == 0
    assert (both["orders"] == both["orders_right"]).all()
    assert (both["units"] == both["units_right"]).all()
    off = both.filter(
        ((pl.col("sales") - pl.col("sales_cny")).abs() > 0.011 * pl.col("orders"))
        | ((pl.col("returned") - pl.col("refunds_cny")).abs() > 0.011 * pl.col("orders"))
    )
    assert off.height == 0, off.head(5)
    assert both.filter(pl.col("refunds_cny") > 0).height > 0


def _consent_truth(paths: DataPaths) -> pl.DataFrame:
    """Every consent event of every source with the person behind it: the CRM's landing file
    (its owner from the truth's identifiers), the WeChat mini-program's subscribe answers and
    the cookie banner's log (``truth/consents_{wechat,web}.parquet``; their lake id is the
    keyed digest of ``consent_key``). Identifiers normalised as the ledger does."""
    crm = pl.read_csv(paths.landing / "crm" / "consents" / "consents.csv", infer_schema=False)
    owners = (
        pl.read_parquet(paths.truth / "identifiers.parquet")
        .filter((pl.col("channel") == "crm") & pl.col("person_id").is_not_null())
        .select(pl.col("record_key").alias("consent_id"), "person_id")
        .unique()
    )
    frames = [
        crm.join(owners, on="consent_id").select(
            pl.lit("crm").alias("channel"),
            "consent_id",
            "person_id",
            "identifier_type",
            "identifier_value",
            "purpose",
            pl.col("event_time")
            .str.to_datetime("%Y-%m-%dT%H:%M:%S%z")
            .dt.convert_time_zone("UTC")
            .dt.replace_time_zone(None)
            .dt.cast_time_unit("us")
            .alias("ts"),
            (pl.col("status") == "granted").alias("granted"),
        )
    ]
    secret = tombstones.key(paths)
    for channel in ("wechat", "web"):
        t = pl.read_parquet(paths.truth / f"consents_{channel}.parquet")
        frames.append(
            t.select(
                pl.lit(channel).alias("channel"),
                pl.col("consent_key")
                .map_elements(lambda k: tombstones.record_digest(secret, k), return_dtype=pl.String)
                .alias("consent_id"),
                "person_id",
                "identifier_type",
                "identifier_value",
                "purpose",
                pl.col("consent_ts").dt.cast_time_unit("us").alias("ts"),
                "granted",
            )
        )
    events = pl.concat(frames, how="vertical_relaxed")
    norm = {}
    for typ, value in events.select("identifier_type", "identifier_value").unique().iter_rows():
        ident = normalize_id(typ, value)
        norm[(typ, value)] = None if ident is None or ident.is_partial else ident.value
    return events.with_columns(
        pl.struct("identifier_type", "identifier_value")
        .map_elements(
            lambda r: norm[(r["identifier_type"], r["identifier_value"])], return_dtype=pl.String
        )
        .alias("identifier_value")
    ).filter(pl.col("identifier_value").is_not_null())


def _expected_consent(events: pl.DataFrame, by: str) -> pl.DataFrame:
    """Per ``by`` (person or customer) and purpose: the latest event of each identifier (a
    tie revokes), then the most restrictive across identifiers."""
    latest = (
        events.sort("ts", pl.col("granted").not_(), "consent_id")
        .group_by(by, "identifier_type", "identifier_value", "purpose")
        .last()
    )
    return latest.group_by(by, "purpose").agg(
        pl.when(pl.col("granted").not_().any())
        .then(pl.lit("revoked"))
        .otherwise(pl.lit("granted"))
        .alias("expected"),
        (pl.col("channel") == "crm").all().alias("crm_only"),
        pl.col("granted").filter(pl.col("channel") == "crm").all().alias("crm_grants"),
    )


def test_consent_follows_the_latest_record_of_each_identifier_most_restrictive(paths):
    """The truth side: every source's consent events and their person (``_consent_truth``).
    An event whose identifier OneID gives to no customer applies to nobody and is left out.
    Each customer whose consent records are all one person's has, per purpose, the state the
    truth gives those events; and each person whose records are all on one customer (who
    holds no one else's) has the state of all their events. How many persons are whole
    depends on identity recall (tests/test_e2e_identity.py); the floor is on customers."""
    events = _consent_truth(paths)
    assert set(events["channel"]) == {"crm", "wechat", "web"}
    linked = _warehouse(
        paths,
        "select channel, record_id as consent_id, customer_id from identity.record_customers "
        "where entity = 'consents'",
    )
    owned = events.join(linked, on=["channel", "consent_id"], how="inner")
    assert set(owned["channel"]) == {"crm", "wechat", "web"}  # each source reaches customers
    c360 = _warehouse(
        paths,
        "select customer_id, consent_email as email, consent_sms as sms, "
        "consent_wechat as wechat, consent_ads as ads, consent_cross_border as cross_border "
        "from marts.customer_360",
    ).unpivot(index="customer_id", variable_name="purpose", value_name="status")
    persons_of = owned.group_by("customer_id").agg(pl.col("person_id").n_unique().alias("n"))
    single = persons_of.filter(pl.col("n") == 1).select("customer_id")
    assert single.height >= 0.9 * persons_of.height, (single.height, persons_of.height)
    by_customer = (
        single.join(c360, on="customer_id")
        .join(_expected_consent(owned, "customer_id"), on=["customer_id", "purpose"], how="left")
        .with_columns(pl.col("expected").fill_null("unknown"))
    )
    wrong = by_customer.filter(pl.col("status") != pl.col("expected"))
    assert wrong.height == 0, wrong.head(5)
    assert by_customer.filter(pl.col("expected") == "revoked").height > 0
    # the mini-program and the banner decide some customers: a refusal on a customer the
    # CRM's own events grant
    overruled = by_customer.filter(
        ~pl.col("crm_only") & pl.col("crm_grants") & (pl.col("expected") == "revoked")
    )
    assert overruled.height > 0
    whole = (
        owned.group_by("person_id")
        .agg(pl.col("customer_id").n_unique().alias("n"), pl.col("customer_id").first())
        .filter(pl.col("n") == 1)
        .join(single, on="customer_id")
        .select("person_id", "customer_id")
    )
    by_person = (
        whole.join(c360, on="customer_id")
        .join(_expected_consent(owned, "person_id"), on=["person_id", "purpose"], how="left")
        .with_columns(pl.col("expected").fill_null("unknown"))
    )
    assert whole.height > 0
    wrong = by_person.filter(pl.col("status") != pl.col("expected"))
    assert wrong.height == 0, wrong.head(5)


def test_points_balances_reconcile_with_the_crm_for_members_who_joined_in_the_window(paths):
    """A member who joined inside the window has no opening balance the ledger files cannot
    see: the CRM's reported balance must equal the sum of their ledger (or be the CRM's floor
    at zero). Older members' differences are explained as opening balances."""
    persons = pl.read_parquet(paths.truth / "persons.parquet")
    start = pl.read_parquet(paths.truth / "sales_lines.parquet")["business_date"].min()
    recent = persons.filter(pl.col("is_member") & (pl.col("member_join_date") >= start))
    rec = _warehouse(paths, "select * from marts.points_reconciliation")
    joined = rec.join(recent.select("member_no"), on="member_no")
    assert joined.height >= 10, joined.height
    assert joined["reconciliation_status"].is_in(["match", "floored_at_zero"]).all(), joined.filter(
        ~pl.col("reconciliation_status").is_in(["match", "floored_at_zero"])
    ).head(5)
    assert (rec["reconciliation_status"] != "unexplained").all()
    # the shipped rules (1 point per full CNY on the CN channels) give what the CRM recorded
    ledger = _warehouse(paths, "select source, txn_type, rule_check from marts.points_ledger")
    earns = ledger.filter((pl.col("source") == "crm") & (pl.col("txn_type") == "earn"))
    assert earns.height > 100
    assert (earns["rule_check"] == "ok").mean() >= 0.99


def test_golden_name_of_a_member_is_the_crm_name(paths):
    """The CRM record is the most trusted source of a name (member_no has the top priority in
    profiles/identity.yml): a member's customer carries the name the CRM holds for them."""
    persons = pl.read_parquet(paths.truth / "persons.parquet").filter(pl.col("is_member"))
    got = _warehouse(
        paths,
        "select r.member_no, d.name, d.name_is_masked from marts.points_reconciliation r "
        "join marts.dim_customers d on d.customer_id = r.customer_id",
    ).join(persons.select("member_no", "full_name"), on="member_no")
    assert got.height > 50
    assert not got["name_is_masked"].any()
    assert (got["name"] == got["full_name"]).mean() >= 0.99


def test_customer_identifiers_carry_the_tier_of_their_link(paths):
    """Exports choose the tier they accept: every linked identifier says how it came to its
    customer, a match weight exactly on the probabilistic ones, and the mart agrees with the
    identity schema's own table."""
    marts = _warehouse(
        paths,
        "select status, link_tier, match_weight is not null as weighted, count(*) as n "
        "from marts.customer_identifiers group by all",
    )
    linked = marts.filter(pl.col("status") != "blocked")
    assert linked.filter(pl.col("link_tier").is_null()).height == 0
    assert set(linked["link_tier"]) <= {"deterministic", "probabilistic"}
    assert (linked["weighted"] == (linked["link_tier"] == "probabilistic")).all()
    assert marts.filter(pl.col("status") == "blocked")["link_tier"].null_count() == (
        marts.filter(pl.col("status") == "blocked").height
    )
    source = _warehouse(
        paths,
        "select link_tier, count(*) as n from identity.customer_identifiers "
        "where customer_id is not null group by all",
    )
    by_tier = linked.group_by("link_tier").agg(pl.col("n").sum())
    assert dict(by_tier.iter_rows()) == dict(source.iter_rows())
    assert dict(by_tier.iter_rows()).get("probabilistic", 0) > 0
