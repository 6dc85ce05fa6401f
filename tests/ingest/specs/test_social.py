"""The social spec on the tiny demo brand, checked against the generator's truth."""

from __future__ import annotations

import json

import polars as pl

from ingest.engine import ingest_channel
from ingest.spec import load_specs
from tests.ingest.specs.lakeview import (
    assert_every_file_balances,
    lake,
    quarantine,
    rejected_defects,
    truth_ids,
)

CHANNEL = "social"
SOCIAL_TYPES = {"follow", "unfollow", "like", "comment", "share", "mention", "add_contact"}
AS_LIKE = {"collect", "wow"}  # Xiaohongshu 收藏 and the official account's 在看
AS_SHARE = {"repost"}


def interactions(demo) -> pl.DataFrame:
    rows = []
    for path in sorted((demo.landing / CHANNEL).rglob("*.ndjson")):
        for line in path.read_text(encoding="utf-8").splitlines():
            rows.append(json.loads(line))
    return pl.DataFrame(rows, infer_schema_length=None)


def test_every_landing_row_is_in_the_lake_or_in_quarantine(loaded, tiny_demo):
    paths, spec, report = loaded
    files = sorted(p for p in (tiny_demo.landing / CHANNEL).rglob("*") if p.is_file())
    assert report.count("loaded") == len(files) == 3
    assert_every_file_balances(paths, spec, files)
    want = rejected_defects(tiny_demo, CHANNEL)
    got = set(
        quarantine(paths, CHANNEL).select("source_file", "source_row", "reason_code").iter_rows()
    )
    assert got == want


def test_interactions_are_social_activity_or_article_reads(loaded, tiny_demo):
    paths, _, _ = loaded
    raw = interactions(tiny_demo)
    social = lake(paths, "social", CHANNEL)
    events = lake(paths, "events", CHANNEL)
    assert social.height + events.height == raw.height > 0
    # reading an article is a page view, every other action a social activity
    reads = raw.filter(pl.col("action") == "read")
    assert sorted(events["event_id"]) == sorted(reads["interaction_id"])
    assert set(events["event_type"]) == {"page_view"} and set(events["platform"]) == {"wechat_oa"}
    both = raw.join(social, left_on="interaction_id", right_on="activity_id", how="inner")
    assert both.height == social.height == raw.height - reads.height
    expected = (
        pl.when(pl.col("action").is_in(AS_LIKE))
        .then(pl.lit("like"))
        .when(pl.col("action").is_in(AS_SHARE))
        .then(pl.lit("share"))
        .otherwise(pl.col("action"))
    )
    assert both.filter(expected != pl.col("activity_type")).height == 0
    assert set(social["activity_type"]) <= SOCIAL_TYPES
    assert both.filter(pl.col("platform") != pl.col("platform_right")).height == 0
    assert both.filter(pl.col("post_id") != pl.col("content_id")).height == 0
    assert both.filter(pl.col("content").ne_missing(pl.col("text"))).height == 0


def test_times_are_beijing_time_stored_as_utc(loaded, tiny_demo):
    paths, _, _ = loaded
    raw = interactions(tiny_demo).select(
        pl.col("interaction_id").alias("id"),
        pl.col("created_at").str.to_datetime("%Y-%m-%dT%H:%M:%S%z").alias("ts"),
        pl.col("created_at").str.slice(0, 10).str.to_date("%Y-%m-%d").alias("local_date"),
    )
    got = pl.concat(
        [
            lake(paths, "social", CHANNEL).select(
                pl.col("activity_id").alias("id"),
                pl.col("activity_ts").alias("lake_ts"),
                "business_date",
            ),
            lake(paths, "events", CHANNEL).select(
                pl.col("event_id").alias("id"),
                pl.col("event_ts").alias("lake_ts"),
                "business_date",
            ),
        ]
    )
    both = raw.join(got, on="id", how="inner")
    assert both.height == raw.height
    utc = pl.col("ts").dt.convert_time_zone("UTC").dt.replace_time_zone(None)
    assert both.filter(utc != pl.col("lake_ts")).height == 0
    assert both.filter(pl.col("local_date") != pl.col("business_date")).height == 0


def test_identifiers_equal_the_truth(loaded, tiny_demo):
    paths, _, _ = loaded
    want = truth_ids(tiny_demo, CHANNEL)
    got = lake(paths, "identifiers", CHANNEL)
    assert want
    assert (
        set(
            got.select(
                "source_file", "record_id", "identifier_type", "identifier_value"
            ).iter_rows()
        )
        == want
    )


def test_accounts_are_scoped_to_their_platform(loaded, tiny_demo):
    paths, _, _ = loaded
    got = lake(paths, "identifiers", CHANNEL)
    platform = pl.col("source_file").str.split("/").list.get(1)
    accounts = got.filter(pl.col("identifier_type") == "social_account_id")
    assert accounts.height > 0 and accounts.filter(pl.col("scope") != platform).height == 0
    # official-account openids carry the scope the wechat channel gives the same account
    oa = next((tiny_demo.landing / "wechat" / "oa_events").glob("*.ndjson"))
    account = json.loads(oa.read_text(encoding="utf-8").splitlines()[0])["ToUserName"]
    openids = got.filter(pl.col("identifier_type") == "wechat_openid")
    assert openids.height > 0 and set(openids["scope"]) == {account}
    assert set(openids.select(platform).to_series()) == {"wechat_oa"}


def test_an_unknown_action_is_an_error(data_dir):
    base = {
        "platform": "weibo",
        "account_id": "6875043589",
        "nickname": "用户043589",
        "post_id": "wepost_0_0",
        "content": None,
        "created_at": "2024-11-01T12:02:01+08:00",
    }
    rows = [
        {**base, "interaction_id": "WE1", "action": "like"},
        {**base, "interaction_id": "WE2", "action": "block"},
    ]
    path = data_dir.landing / CHANNEL / "weibo" / "weibo_interactions_202411.ndjson"
    path.parent.mkdir(parents=True)
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    ingest_channel(load_specs()[CHANNEL], data_dir)
    assert lake(data_dir, "social", CHANNEL)["activity_id"].to_list() == ["WE1"]
    q = quarantine(data_dir, CHANNEL)
    assert q.select("source_row", "reason_code").rows() == [(2, "unknown_value")]
    assert "'block' is not in" in q["reason"][0]
