"""The WeChat spec on the tiny demo brand, checked against the generator's truth."""

from __future__ import annotations

import json

import polars as pl

from ingest.canonical import EVENT_TYPES
from ingest.engine import ingest_channel
from ingest.identifiers import normalize_id
from ingest.spec import load_specs
from tests.ingest.specs.lakeview import (
    assert_agree,
    assert_consents_equal_truth,
    assert_every_file_balances,
    lake,
    matched,
    quarantine,
    rejected_defects,
    sku_map,
    truth,
    utc,
)

CHANNEL = "wechat"
SOCIAL_TYPES = {"follow", "unfollow", "like", "comment", "share", "mention", "add_contact"}


def landing(demo, folder: str) -> list[tuple[str, int, dict]]:
    """Every record of an NDJSON folder with its file and 1-based line."""
    rows = []
    for path in sorted((demo.landing / CHANNEL / folder).glob("*.ndjson")):
        rel = path.relative_to(demo.landing).as_posix()
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            if line.strip():
                rows.append((rel, n, json.loads(line)))
    return rows


def file_date(col: str = "source_file") -> pl.Expr:
    return pl.col(col).str.extract(r"_(\d{8})(?:_v\d+)?\.\w+$").str.to_date("%Y%m%d")


def test_every_landing_row_is_in_the_lake_or_in_quarantine(loaded, tiny_demo):
    paths, spec, report = loaded
    files = sorted(p for p in (tiny_demo.landing / CHANNEL).rglob("*") if p.is_file())
    assert report.count("loaded") == len(files) > 0
    assert_every_file_balances(paths, spec, files)
    # quarantine holds exactly the planted defects the engine must reject
    want = rejected_defects(tiny_demo, CHANNEL)
    got = set(
        quarantine(paths, CHANNEL).select("source_file", "source_row", "reason_code").iter_rows()
    )
    assert got == want


def test_order_lines_equal_the_truth(loaded, tiny_demo):
    paths, _, _ = loaded
    got = lake(paths, "order_lines", CHANNEL)
    want = truth(tiny_demo, "sales_lines", CHANNEL).with_columns(
        utc(pl.col("order_ts_local")).alias("order_ts")
    )
    assert got.height == want.height > 0
    key = ["order_id", "line_id"]
    both = want.join(got, on=key, how="full", suffix="_lake", coalesce=True)
    assert both.height == want.height  # same (order, item_index) pairs on both sides
    for col in ("quantity", "channel_sku", "status", "currency", "order_ts", "business_date"):
        assert both.filter(pl.col(col).ne_missing(pl.col(f"{col}_lake"))).height == 0, col
    assert got["sku"].null_count() == got.height  # the warehouse maps mp_ codes to the master
    assert got["quantity"].sum() == want["quantity"].sum()
    # spu_ is the mini-program's item id of the line's mp_ code, as the ERP's SKU map has it
    erp = sku_map(tiny_demo, CHANNEL)
    items = got.join(erp, on="channel_sku", how="left", suffix="_erp")
    assert got["channel_item_id"].null_count() == 0
    assert items.filter(pl.col("channel_item_id") != pl.col("channel_item_id_erp")).height == 0


def test_money_in_fen_equals_the_truth(loaded, tiny_demo):
    paths, _, _ = loaded
    lines = lake(paths, "order_lines", CHANNEL)
    want = truth(tiny_demo, "sales_lines", CHANNEL)
    for col in ("unit_price", "line_total", "discount", "net_amount"):
        assert lines[col].null_count() == 0, col
    both = want.join(lines, on=["order_id", "line_id"], how="inner", suffix="_lake")
    assert both.height == want.height > 0
    # the unit price and the line net are read (fen / 100), the discount derived from them
    for col in ("unit_price", "discount", "net_amount"):
        assert both.filter(pl.col(col) != pl.col(f"{col}_lake")).height == 0, col
    assert (
        both.filter(pl.col("line_total") != pl.col("unit_price") * pl.col("quantity")).height == 0
    )
    sums = [pl.col("net_amount").sum(), pl.col("discount").sum()]
    assert lines.group_by("currency").agg(sums).sort("currency").rows() == (
        want.group_by("currency").agg(sums).sort("currency").rows()
    )
    # price_info: goods, coupon discount and what the buyer pays, per order
    orders = lake(paths, "orders", CHANNEL)
    per_order = want.group_by("order_id").agg(
        (pl.col("unit_price") * pl.col("quantity")).sum().alias("gross"),
        pl.col("discount").sum(),
        pl.col("net_amount").sum(),
    )
    both = per_order.join(orders, on="order_id", how="inner")
    assert both.height == orders.height == per_order.height
    assert both.filter(pl.col("gross") != pl.col("gross_total")).height == 0
    assert both.filter(pl.col("discount") != pl.col("discount_total")).height == 0
    assert both.filter(pl.col("net_amount") != pl.col("order_total")).height == 0
    assert orders["shipping_total"].null_count() == 0
    # refunds
    ret, want_ret = lake(paths, "returns", CHANNEL), truth(tiny_demo, "returns", CHANNEL)
    both = want_ret.join(ret, on=["order_id", "line_id"], how="inner", suffix="_lake")
    assert both.height == ret.height == want_ret.height > 0
    assert both.filter(pl.col("amount") != pl.col("amount_lake")).height == 0


def test_orders_equal_the_truth(loaded, tiny_demo):
    paths, _, _ = loaded
    got = lake(paths, "orders", CHANNEL)
    want = (
        truth(tiny_demo, "sales_lines", CHANNEL)
        .group_by("order_id")
        .agg(
            utc(pl.col("order_ts_local").first()).alias("order_ts"),
            pl.col("business_date").first(),
            pl.col("status").first(),
        )
    )
    assert got.height == want.height > 0
    assert_agree(matched(want, got, "order_id"), "order_ts", "business_date", "status")
    assert set(got["currency"]) == {"CNY"}
    assert set(got["native_status"]) <= {"10", "20", "21", "30", "100", "200", "250"}
    assert got["buyer_name"].null_count() == 0


def test_returns_equal_the_truth(loaded, tiny_demo):
    paths, _, _ = loaded
    got = lake(paths, "returns", CHANNEL)
    want = truth(tiny_demo, "returns", CHANNEL)
    assert got.height == want.height > 0
    key = ["order_id", "line_id"]
    both = matched(want, got, key)
    assert_agree(both, "quantity", return_date="business_date")
    # every return points at a sold line and names that line's channel SKU
    lines = lake(paths, "order_lines", CHANNEL).select(
        *key, pl.col("channel_sku").alias("sold_sku")
    )
    joined = got.join(lines, on=key, how="left")
    assert joined.filter(pl.col("channel_sku").ne_missing(pl.col("sold_sku"))).height == 0


def test_events_map_every_native_name(loaded, tiny_demo):
    paths, _, _ = loaded
    got = lake(paths, "events", CHANNEL)
    records = [rec for _, _, rec in landing(tiny_demo, "mp_events")]
    assert got.height == len(records) > 0
    assert set(got["event_type"]) <= set(EVENT_TYPES)
    native = {r["event"] for r in records}
    assert set(got["native_event"]) == native
    assert got.filter(pl.col("native_event") == "view_item")["event_type"].unique().to_list() == [
        "product_view"
    ]
    # the mini-program's app id is the platform; times are Beijing wall time
    apps = {r["appid"] for r in records}
    assert set(got["platform"]) == apps and len(apps) == 2
    assert got.filter(pl.col("business_date") != file_date()).height == 0


def test_official_account_and_wecom_are_social_activity(loaded, tiny_demo):
    paths, _, _ = loaded
    got = lake(paths, "social", CHANNEL)
    assert set(got["activity_type"]) <= SOCIAL_TYPES
    oa = got.filter(pl.col("source_file").str.contains("/oa_events/"))
    events = [rec for _, _, rec in landing(tiny_demo, "oa_events")]
    assert oa.height == len(events) > 0
    kinds = {"subscribe": "follow", "unsubscribe": "unfollow"}
    want = sorted(kinds[r["Event"]] for r in events)
    assert sorted(oa["activity_type"]) == want
    followers = pl.read_csv(
        tiny_demo.landing / CHANNEL / "oa_followers" / "oa_followers.csv", infer_schema=False
    )
    fol = got.filter(pl.col("source_file").str.contains("/oa_followers/"))
    assert sorted(fol["account_id"]) == sorted(followers["openid"])
    assert set(fol["activity_type"]) == {"follow"}
    adds = sum(len(rec["follow_user"]) for _, _, rec in landing(tiny_demo, "wecom"))
    wecom = got.filter(pl.col("platform") == "wecom")
    assert wecom.height == adds > 0
    assert set(wecom["activity_type"]) == {"add_contact"} and wecom["staff_id"].null_count() == 0


def test_unix_second_times_are_read_as_utc(loaded, tiny_demo):
    paths, _, _ = loaded
    got = lake(paths, "social", CHANNEL)
    assert got.height > 0 and got["activity_ts"].null_count() == 0
    # OA event files are per Beijing day: every event's business date is its file's date
    oa = got.filter(pl.col("source_file").str.contains("/oa_events/"))
    assert oa.filter(pl.col("business_date") != file_date()).height == 0
    events = pl.DataFrame(
        [(r["FromUserName"], r["CreateTime"]) for _, _, r in landing(tiny_demo, "oa_events")],
        schema=["account_id", "epoch"],
        orient="row",
    )
    both = oa.join(events, on="account_id").filter(
        pl.col("activity_id") == pl.format("{} {}", "account_id", "epoch")
    )
    assert both.height == oa.height
    epoch = pl.from_epoch("epoch", time_unit="s")
    assert both.filter(epoch != pl.col("activity_ts")).height == 0
    # a follower who subscribed in the window did so on the day of their subscribe event
    # (the list stamps the day, not the second)
    follows = oa.filter(pl.col("activity_type") == "follow")
    followers = got.filter(pl.col("source_file").str.contains("/oa_followers/"))
    same = follows.join(followers, on="account_id", suffix="_list")
    assert same.height == follows.height > 0
    assert same.filter(pl.col("business_date") != pl.col("business_date_list")).height == 0
    # WeCom: the contact's add time, as the staff member's follow_user entry has it
    adds = pl.DataFrame(
        [
            (r["external_userid"], f["userid"], f["createtime"])
            for _, _, r in landing(tiny_demo, "wecom")
            for f in r["follow_user"]
        ],
        schema=["account_id", "staff_id", "epoch"],
        orient="row",
    )
    wecom = got.filter(pl.col("platform") == "wecom")
    both = wecom.join(adds, on=["account_id", "staff_id"])
    assert both.height == wecom.height == adds.height > 0
    assert both.filter(epoch != pl.col("activity_ts")).height == 0


def test_follows_through_a_store_qr_code_name_the_store(loaded, tiny_demo):
    paths, _, _ = loaded
    got = lake(paths, "social", CHANNEL)
    oa = got.filter(pl.col("source_file").str.contains("/oa_events/"))
    wecom = got.filter(pl.col("platform") == "wecom")
    scanned = oa.filter(pl.col("location_id").is_not_null())
    assert scanned.height > 0 and set(scanned["activity_type"]) == {"follow"}
    assert wecom.height > 0 and wecom["location_id"].null_count() == 0
    # the store is the follower's home store (truth), and a store of the ERP
    people = (
        truth(tiny_demo, "identifiers", CHANNEL)
        .filter(pl.col("identifier_type").is_in(["wechat_openid", "wecom_external_userid"]))
        .filter(pl.col("person_id").is_not_null())
        .select(pl.col("identifier_value").alias("account_id"), "person_id")
        .unique()
    )
    home = pl.read_parquet(tiny_demo.truth / "persons.parquet").select("person_id", "home_store")
    stores = pl.read_csv(tiny_demo.landing / "erp" / "locations.csv", infer_schema=False)
    stores = set(stores.filter(pl.col("location_type") == "store")["location_id"])
    for part in (scanned, wecom):
        both = part.join(people, on="account_id").join(home, on="person_id")
        assert both.height == part.height
        assert both.filter(pl.col("location_id") != pl.col("home_store")).height == 0
        assert set(part["location_id"]) <= stores
    # store staff add contacts of their own store (staff HZ01-BA03 works at ST-HZ-01)
    staff_store = pl.format(
        "ST-{}-{}", pl.col("staff_id").str.slice(0, 2), pl.col("staff_id").str.slice(2, 2)
    )
    assert wecom.filter(staff_store != pl.col("location_id")).height == 0
    # a follow without a store scene (search, article) names no store
    plain = oa.filter(pl.col("location_id").is_null() & (pl.col("activity_type") == "follow"))
    assert plain.height > 0


def test_a_follow_through_another_qr_scene_is_kept_without_a_store(data_dir):
    path = data_dir.landing / CHANNEL / "oa_events" / "oa_events_20241104.ndjson"
    path.parent.mkdir(parents=True)
    event = {
        "ToUserName": "gh_5d8e2f1a9c3b",
        "FromUserName": "o6_bma8jKZx2UCMQYrD-6gC3SdPp",
        "CreateTime": 1730690121,
        "MsgType": "event",
        "Event": "subscribe",
        "EventKey": "qrscene_campaign_1111",
    }
    path.write_text(json.dumps(event) + "\n", encoding="utf-8")
    ingest_channel(load_specs()[CHANNEL], data_dir)
    assert quarantine(data_dir, CHANNEL).height == 0
    social = lake(data_dir, "social", CHANNEL)
    assert social.select("activity_type", "location_id").rows() == [("follow", None)]


def test_identifiers_equal_the_truth(loaded, tiny_demo):
    paths, _, _ = loaded
    got = lake(paths, "identifiers", CHANNEL)
    want = set()
    for rel, itype, value in (
        truth(tiny_demo, "identifiers", CHANNEL)
        .select("source_file", "identifier_type", "identifier_value")
        .iter_rows()
    ):
        ident = normalize_id(itype, value)
        if ident is not None:
            want.add((rel, ident.type, ident.value))
    assert want
    assert set(got.select("source_file", "identifier_type", "identifier_value").iter_rows()) == want


def test_openids_are_scoped_to_their_app_or_official_account(loaded, tiny_demo):
    paths, _, _ = loaded
    openids = lake(paths, "identifiers", CHANNEL).filter(
        pl.col("identifier_type") == "wechat_openid"
    )
    assert openids["scope"].null_count() == 0
    scopes = {}
    for folder, app in (
        ("mp_orders", "appid"),
        ("mp_events", "appid"),
        ("oa_events", "ToUserName"),
    ):
        for rel, row, rec in landing(tiny_demo, folder):
            scopes[(rel, row)] = rec[app]
    for rel, row, scope in openids.select("source_file", "source_row", "scope").iter_rows():
        if (rel, row) in scopes:
            assert scope == scopes[(rel, row)], (rel, row)
    # the follower list carries no account id: its openids share the OA events' scope
    oa_ids = {s for (rel, _), s in scopes.items() if "/oa_events/" in rel}
    followers = openids.filter(pl.col("source_file").str.contains("/oa_followers/"))
    assert len(oa_ids) == 1 and set(followers["scope"]) == oa_ids
    # a person's openid differs per app, and the shop and the member app are both present
    assert openids["scope"].n_unique() == 3


def test_open_or_rejected_after_sales_are_not_returns(data_dir):
    base = {
        "order_id": "WX20241101000001",
        "item_index": 1,
        "sku_id": "mp_10025",
        "count": 1,
        "refund_amount": 43100,
        "type": "RETURN",
        "create_time": "2024-11-08 14:07:00",
        "update_time": "2024-11-10 14:07:00",
    }
    rows = [
        {**base, "aftersale_id": "1", "status": "MERCHANT_REFUND_SUCCESS"},
        {**base, "aftersale_id": "2", "status": "MERCHANT_REJECT_REFUND"},
        {**base, "aftersale_id": "3", "status": "MERCHANT_REFUND_SUCCESS", "count": 0},
    ]
    path = data_dir.landing / CHANNEL / "mp_aftersales" / "mp_aftersales_20241110.ndjson"
    path.parent.mkdir(parents=True)
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    ingest_channel(load_specs()[CHANNEL], data_dir)
    ret = lake(data_dir, "returns", CHANNEL)
    assert ret.select("return_id", "order_id", "line_id", "quantity").rows() == [
        ("1", "WX20241101000001", "1", 1)
    ]
    assert str(ret["return_ts"][0]) == "2024-11-10 06:07:00"  # Beijing time, stored as UTC
    assert str(ret["amount"][0]) == "431.00"  # 43100 fen
    q = quarantine(data_dir, CHANNEL).sort("source_row")
    assert q.select("source_row", "reason_code").rows() == [
        (2, "unmatched_row"),
        (3, "out_of_range"),
    ]


def test_unknown_order_status_is_an_error_and_a_v2_file_replaces_its_day(data_dir):
    order = {
        "order_id": "WX20241101000001",
        "appid": "wx3f8a6c2b1d9e0a77",
        "openid": "oJ7Ks5wh4nBMkBjDp8nXbXxLO4Zd",
        "create_time": "2024-11-01 04:33:30",
        "status": 100,
        "price_info": {"product_price": 86200, "discounted_price": 0, "order_price": 86200},
        "items": [
            {
                "item_index": 1,
                "sku_id": "mp_10025",
                "sku_cnt": 2,
                "sale_price": 43100,
                "real_price": 86200,
            }
        ],
    }
    folder = data_dir.landing / CHANNEL / "mp_orders"
    folder.mkdir(parents=True)
    odd = {**order, "order_id": "WX20241101000002", "status": 99}
    (folder / "mp_orders_20241101.ndjson").write_text(
        json.dumps(order) + "\n" + json.dumps(odd) + "\n", encoding="utf-8"
    )
    spec = load_specs()[CHANNEL]
    ingest_channel(spec, data_dir)
    q = quarantine(data_dir, CHANNEL)
    assert set(q["reason_code"]) == {"unknown_value"} and set(q["source_row"]) == {2}
    assert "'99' is not in" in q["reason"][0]
    fixed = {**odd, "status": 250}
    (folder / "mp_orders_20241101_v2.ndjson").write_text(
        json.dumps(order) + "\n" + json.dumps(fixed) + "\n", encoding="utf-8"
    )
    report = ingest_channel(spec, data_dir)
    assert "replaces wechat/mp_orders/mp_orders_20241101.ndjson" in report.files[-1].note
    orders = lake(data_dir, "orders", CHANNEL).sort("order_id")
    assert orders.select("order_id", "status").rows() == [
        ("WX20241101000001", "completed"),
        ("WX20241101000002", "cancelled"),
    ]
    assert set(orders["source_file"]) == {"wechat/mp_orders/mp_orders_20241101_v2.ndjson"}
    assert [str(v) for v in orders["order_total"]] == ["862.00", "862.00"]  # 86200 fen
    lines = lake(data_dir, "order_lines", CHANNEL)
    assert [str(lines[c][0]) for c in ("unit_price", "discount", "net_amount")] == [
        "431.00",
        "0.00",
        "862.00",
    ]
    assert quarantine(data_dir, CHANNEL).height == 0


def test_mini_program_subscribe_authorisations_are_consent_events(loaded, tiny_demo):
    """Popup answers and settings changes of the shop mini-program's marketing template are
    `wechat` consent events of the user's openid in that mini-program."""
    paths, _, _ = loaded
    n = assert_consents_equal_truth(paths, tiny_demo, CHANNEL)
    consents = lake(paths, "consents", CHANNEL)
    assert n == consents.height > 0
    assert set(consents["consent_source"]) == {
        "subscribe_msg_popup_event",
        "subscribe_msg_change_event",
    }
    assert set(consents["granted"]) == {True, False}
    scopes = lake(paths, "identifiers", CHANNEL).filter(pl.col("entity") == "consents")
    assert set(scopes["scope"]) == {"wx3f8a6c2b1d9e0a77"}  # the shop app, as its orders say
