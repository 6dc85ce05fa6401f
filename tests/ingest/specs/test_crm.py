"""The CRM spec on the tiny demo brand, checked against the generator's truth."""

from __future__ import annotations

import polars as pl

from ingest.canonical import CONSENT_PURPOSES
from ingest.engine import ingest_channel
from ingest.identifiers import normalize_id
from ingest.spec import load_specs
from tests.ingest.specs.lakeview import (
    assert_every_file_balances,
    lake,
    lake_ids,
    quarantine,
    rejected_defects,
    truth_ids,
)

CHANNEL = "crm"
SHARED_CARD = "门店公用卡"  # the stores' shared member cards: members without a person


def landing_csv(demo, folder: str) -> pl.DataFrame:
    files = sorted((demo.landing / CHANNEL / folder).glob("*.csv"))
    return pl.concat([pl.read_csv(f, infer_schema=False) for f in files])


def test_every_landing_row_is_in_the_lake_or_in_quarantine(loaded, tiny_demo):
    paths, spec, report = loaded
    files = sorted(p for p in (tiny_demo.landing / CHANNEL).rglob("*") if p.is_file())
    assert report.count("loaded") == len(files) > 0
    assert_every_file_balances(paths, spec, files)
    want = rejected_defects(tiny_demo, CHANNEL)
    got = set(
        quarantine(paths, CHANNEL).select("source_file", "source_row", "reason_code").iter_rows()
    )
    assert got == want


def test_members_are_the_truth_members_and_the_shared_cards(loaded, tiny_demo):
    paths, _, _ = loaded
    got = lake(paths, "members", CHANNEL)
    persons = pl.read_parquet(tiny_demo.truth / "persons.parquet")
    end = pl.read_parquet(tiny_demo.truth / "demand.parquet")["date"].max()
    want = persons.filter(pl.col("is_member") & (pl.col("member_join_date") <= end))
    people = got.filter(~pl.col("name").str.starts_with(SHARED_CARD))
    assert sorted(people["member_no"]) == sorted(want["member_no"])
    both = want.join(people, on="member_no", how="inner")
    assert both.height == want.height > 0
    # Beijing join date survives the trip through UTC; birthday and gender are the person's
    assert both.filter(pl.col("business_date") != pl.col("member_join_date")).height == 0
    assert both.filter(pl.col("birthday").dt.year() != pl.col("birth_year")).height == 0
    assert both.filter((pl.col("gender") == "F") != pl.col("female")).height == 0
    shared = got.filter(pl.col("name").str.starts_with(SHARED_CARD))
    assert shared.height > 0 and shared["join_location_id"].str.starts_with("ST-").all()
    assert set(got["tier"]) <= {"普通会员", "银卡", "金卡", "黑金卡"}


def test_points_balance_is_the_ledger_plus_the_opening_balance(loaded, tiny_demo):
    paths, _, _ = loaded
    members = lake(paths, "members", CHANNEL)
    assert members["points_balance"].null_count() == 0
    assert (members["points_balance"] >= 0).all()
    ledger = lake(paths, "points", CHANNEL).group_by("member_no").agg(pl.col("points").sum())
    both = members.join(ledger, on="member_no", how="left").with_columns(
        pl.col("points").fill_null(0)
    )
    # a balance never falls below the ledger's sum: members from before the ledger carry an
    # opening balance; one who joined within it has exactly the ledger's points
    assert both.filter(pl.col("points_balance") < pl.col("points")).height == 0
    persons = pl.read_parquet(tiny_demo.truth / "persons.parquet")
    days = pl.read_parquet(tiny_demo.truth / "demand.parquet")["date"]
    new = persons.filter(
        pl.col("is_member") & pl.col("member_join_date").is_between(days.min(), days.max())
    )
    joined = both.join(new.select("member_no"), on="member_no", how="inner")
    assert joined.height == new.height > 0
    assert joined.filter(pl.col("points_balance") != pl.col("points").clip(0)).height == 0
    assert set(members.filter(pl.col("name").str.starts_with(SHARED_CARD))["points_balance"]) == {0}


def test_points_earned_are_the_truth_orders_net_amount(loaded, tiny_demo):
    paths, _, _ = loaded
    got = lake(paths, "points", CHANNEL)
    assert got.height == landing_csv(tiny_demo, "points_ledger").height > 0
    orders = (
        pl.read_parquet(tiny_demo.truth / "sales_lines.parquet")
        .group_by(pl.col("channel").alias("sales_channel"), "order_id")
        .agg(pl.col("net_amount").sum(), pl.col("location_id").first())
    )
    # an order is named by its channel and the channel's order id
    earn = got.filter(pl.col("reason") == "EARN").join(
        orders, on=["sales_channel", "order_id"], how="left", suffix="_order"
    )
    assert earn.height > 0 and earn["net_amount"].null_count() == 0
    assert set(earn["sales_channel"]) <= set(orders["sales_channel"])
    # a store receipt names its store (the pos lake keys it "<store> <receipt no.>"); an
    # online order names none
    store = earn.filter(pl.col("sales_channel") == "pos")
    assert store.height > 0
    assert store.filter(pl.col("location_id") != pl.col("location_id_order")).height == 0
    assert earn.filter(pl.col("sales_channel") != "pos")["location_id"].null_count() == (
        earn.height - store.height
    )
    # one point per whole yuan paid
    assert earn.filter(pl.col("points") != pl.col("net_amount").floor().cast(pl.Int64)).height == 0
    assert (got.filter(pl.col("reason") == "REDEEM")["points"] < 0).all()
    bonus = got.filter(pl.col("reason") == "BONUS_BIRTHDAY")
    assert bonus["order_id"].is_null().all() and set(bonus["sales_channel"]) <= {"crm"}
    members = set(lake(paths, "members", CHANNEL)["member_no"])
    assert set(got["member_no"]) <= members


def test_consents_keep_purpose_grant_and_time(loaded, tiny_demo):
    paths, _, _ = loaded
    got = lake(paths, "consents", CHANNEL)
    raw = landing_csv(tiny_demo, "consents")
    assert got.height == raw.height > 0
    both = raw.join(got, on="consent_id", how="inner")
    assert both.height == raw.height
    assert set(got["purpose"]) <= set(CONSENT_PURPOSES)
    assert both.filter((pl.col("status") == "granted") != pl.col("granted")).height == 0
    # +08:00 in the file, UTC in the lake, the Beijing date as business date
    local = pl.col("event_time").str.slice(0, 10).str.to_date("%Y-%m-%d")
    assert both.filter(local != pl.col("business_date")).height == 0


def test_identifiers_equal_the_truth(loaded, tiny_demo):
    paths, _, _ = loaded
    want = truth_ids(tiny_demo, CHANNEL)
    assert want and lake_ids(paths, CHANNEL) == want  # every one, and nothing invented


def test_every_consent_carries_the_identifier_of_its_kind(loaded, tiny_demo):
    paths, _, _ = loaded
    raw = landing_csv(tiny_demo, "consents").with_columns(
        pl.struct("identifier_type", "identifier_value")
        .map_elements(
            lambda r: normalize_id(r["identifier_type"], r["identifier_value"]) is not None,
            return_dtype=pl.Boolean,
        )
        .alias("valid")
    )
    ids = lake(paths, "identifiers", CHANNEL).filter(pl.col("entity") == "consents")
    # one identifier per consent, of the kind the row names (unionid consents included)
    valid = raw.filter("valid")
    assert ids.height == valid.height > 0
    both = valid.join(ids, left_on="consent_id", right_on="record_id", how="inner")
    assert both.height == valid.height
    assert both.filter(pl.col("identifier_type") != pl.col("identifier_type_right")).height == 0
    assert {"email", "phone", "wechat_unionid"} == set(ids["identifier_type"])
    # the demo gives a few people abroad numbers no numbering plan has: no identifier
    assert set(raw.filter(~pl.col("valid"))["identifier_type"]) <= {"phone"}


CONSENTS_HEADER = "consent_id,identifier_type,identifier_value,purpose,status,event_time,source"


def write_consents(data_dir, rows: list[str]) -> None:
    path = data_dir.landing / CHANNEL / "consents" / "consents.csv"
    path.parent.mkdir(parents=True)
    path.write_text("\n".join([CONSENTS_HEADER, *rows]) + "\n", encoding="utf-8")


def test_unknown_purpose_or_status_is_quarantined(data_dir):
    write_consents(
        data_dir,
        [
            "C1,phone,13800138001,sms,granted,2024-11-01T10:00:00+08:00,pos",
            "C2,wechat_unionid,oVq1hMq7DCDyUKUZjlBmN4xKt9rQ,wechat,granted,2024-11-01T10:00:00+08:00,mp",
            "C3,email,a@b.cn,fax,granted,2024-11-01T10:00:00+08:00,crm",
            "C4,email,A@B.cn ,email,paused,2024-11-01T10:00:00+08:00,crm",
        ],
    )
    ingest_channel(load_specs()[CHANNEL], data_dir)
    got = lake(data_dir, "consents", CHANNEL)
    assert got.select("consent_id", "purpose", "granted").rows() == [
        ("C1", "sms", True),
        ("C2", "wechat", True),
    ]
    assert str(got["consent_ts"][0]) == "2024-11-01 02:00:00"
    ids = lake(data_dir, "identifiers", CHANNEL).sort("record_id")
    assert ids.select("record_id", "identifier_type", "identifier_value").rows() == [
        ("C1", "phone", "+8613800138001"),
        ("C2", "wechat_unionid", "oVq1hMq7DCDyUKUZjlBmN4xKt9rQ"),
    ]
    q = quarantine(data_dir, CHANNEL).sort("source_row")
    assert q.select("source_row", "reason_code", "field").rows() == [
        (3, "unknown_value", "purpose"),
        (4, "unknown_value", "status"),
    ]


def test_unknown_identifier_kind_is_quarantined(data_dir):
    write_consents(
        data_dir,
        [
            "C1,phone,13800138001,sms,granted,2024-11-01T10:00:00+08:00,pos",
            "C2,wechat_openid,oJ7Ks5wh4nBMkBjDp8nXbXxLO4Zd,wechat,granted,2024-11-01T10:00:00+08:00,mp",
        ],
    )
    ingest_channel(load_specs()[CHANNEL], data_dir)
    assert lake(data_dir, "consents", CHANNEL)["consent_id"].to_list() == ["C1"]
    q = quarantine(data_dir, CHANNEL)
    assert q.select("source_row", "reason_code", "field").rows() == [
        (2, "unknown_value", "identifier_type")
    ]
    assert "identifier kind 'wechat_openid' is not in" in q["reason"][0]
