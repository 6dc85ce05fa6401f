"""End to end: generate a tiny demo brand, materialise the whole graph, and compare the mart
with what the generator says it sold (its truth files, not a re-derivation by our code)."""

from __future__ import annotations

import json

import dagster as dg
import duckdb
import polars as pl
import pytest

from ingest.config import DataPaths

SLICE_CHANNELS = ["pos", "web"]


@pytest.fixture
def built(built_demo, monkeypatch):
    """The whole graph materialised once per session on the e2e demo (tests/conftest.py)."""
    monkeypatch.setenv("ZHONGTAI_DATA_DIR", str(built_demo[0].root))
    return built_demo


def _mart(paths: DataPaths) -> pl.DataFrame:
    con = duckdb.connect(str(paths.warehouse), read_only=True)
    try:
        return pl.from_arrow(
            con.sql(
                "select sales_date, channel, location_id, sku, units_sold, net_sales, "
                "units_returned, returns_amount from marts.fct_daily_sales"
            ).arrow()
        )
    finally:
        con.close()


def _expected(paths: DataPaths) -> pl.DataFrame:
    keys = ["sales_date", "channel", "location_id", "sku"]
    lines = pl.read_parquet(paths.truth / "sales_lines.parquet").filter(
        pl.col("channel").is_in(SLICE_CHANNELS)
    )
    sold = (
        lines.filter(~pl.col("is_test") & pl.col("status").is_in(["paid", "shipped", "completed"]))
        .group_by(pl.col("business_date").alias("sales_date"), "channel", "location_id", "sku")
        .agg(
            pl.col("quantity").sum().alias("units_sold"),
            pl.col("net_amount").cast(pl.Float64).sum().alias("net_sales"),
        )
    )
    test_orders = lines.filter(pl.col("is_test")).select("channel", "order_id").unique()
    returned = (
        pl.read_parquet(paths.truth / "returns.parquet")
        .filter(pl.col("channel").is_in(SLICE_CHANNELS))
        .join(test_orders, on=["channel", "order_id"], how="anti")
        .group_by(pl.col("return_date").alias("sales_date"), "channel", "location_id", "sku")
        .agg(
            pl.col("quantity").sum().alias("units_returned"),
            pl.col("amount").cast(pl.Float64).sum().alias("returns_amount"),
        )
    )
    return (
        sold.join(returned, on=keys, how="full", coalesce=True)
        .with_columns(pl.col("units_sold", "units_returned").fill_null(0).cast(pl.Int64))
        .with_columns(pl.col("net_sales", "returns_amount").fill_null(0.0).round(2))
        .sort(keys)
    )


def test_run_succeeds_and_every_error_check_passes(built):
    _, result = built
    assert result.success
    evaluations = result.get_asset_check_evaluations()
    assert len(evaluations) > 20
    failed = [
        (e.asset_key.to_user_string(), e.check_name)
        for e in evaluations
        if not e.passed and e.severity == dg.AssetCheckSeverity.ERROR
    ]
    assert failed == []


def test_one_run_orders_staging_then_identity_then_the_customer_marts(built):
    """The dbt multi-asset is subsettable: in one run Dagster builds staging, then the
    identity asset, then the marts that read the identity schema (a second dbt step)."""
    _, result = built
    order = [
        e.asset_key.to_user_string()
        for e in result.get_asset_materialization_events()
        if e.asset_key is not None
    ]
    position = {key: order.index(key) for key in order}
    staged = position["staging/stg_lake__identifiers"]
    identity = position["identity/customer_identifiers"]
    assert staged < identity
    for mart in ("marts/fct_orders", "marts/fct_order_lines", "marts/dim_customers"):
        assert identity < position[mart], mart


def test_mart_equals_what_the_generator_sold(built):
    paths, _ = built
    keys = ["sales_date", "channel", "location_id", "sku"]
    got = (
        _mart(paths)
        .filter(pl.col("channel").is_in(SLICE_CHANNELS))
        .with_columns(
            pl.col("net_sales", "returns_amount").cast(pl.Float64).round(2),
            pl.col("units_sold", "units_returned").cast(pl.Int64),
        )
        .sort(keys)
    )
    want = _expected(paths).select(got.columns)
    assert got.height == want.height > 0
    assert got["units_sold"].sum() == want["units_sold"].sum()
    assert round(got["net_sales"].sum(), 2) == round(want["net_sales"].sum(), 2)
    assert got.equals(want)


def test_planted_defects_in_the_slice_are_handled(built):
    paths, _ = built
    defects = pl.read_parquet(paths.truth / "defects.parquet")
    manifest = json.loads((paths.manifest_dir / "pos.json").read_text(encoding="utf-8"))["files"]
    statuses = {rec["status"] for rec in manifest.values()}
    assert {"loaded", "duplicate", "superseded"} <= statuses
    quarantine = pl.read_parquet(paths.quarantine / "*.parquet")
    for row in defects.filter(pl.col("kind") == "exact_duplicate_row").iter_rows(named=True):
        if row["channel"] in SLICE_CHANNELS:
            hit = quarantine.filter(
                (pl.col("source_file") == row["file"]) & (pl.col("source_row") == row["row"])
            )
            assert hit.height >= 1, row
            assert hit["reason"][0].startswith("exact duplicate of row")


def _cut_rows(paths: DataPaths) -> list[str]:
    """The text of each row a truncated file cut off (from the defect list and the file)."""
    defects = pl.read_parquet(paths.truth / "defects.parquet").filter(
        pl.col("kind") == "truncated_file"
    )
    cut = []
    for rel in defects["file"].to_list():
        raw = (paths.landing / rel).read_bytes()
        text = raw.decode("utf-8") if raw.startswith(b"\xef\xbb\xbf") else raw.decode("gb18030")
        cut.append(text.splitlines()[-1])
    return cut


def test_every_channel_sells_what_the_generator_sold(built):
    """All channels at day x channel x SKU x currency (marketplace exports do not all name
    the shipping location). Expected = the truth's real paid lines, less what the pipeline
    must not count and says so: lines whose channel SKU is in no SKU map (listed by
    int_unmapped_channel_skus) and the row a truncated file cut off (quarantined)."""
    paths, _ = built
    keys = ["sales_date", "channel", "sku", "currency"]
    sku_map = pl.read_csv(paths.landing / "erp" / "sku_map.csv", infer_schema=False)
    mapped = sku_map.select(
        pl.col("channel").str.split("_").list.first().alias("channel"), "channel_sku"
    ).unique()
    cut = _cut_rows(paths)
    lines = (
        pl.read_parquet(paths.truth / "sales_lines.parquet")
        .filter(~pl.col("is_test") & pl.col("status").is_in(["paid", "shipped", "completed"]))
        .join(mapped, on=["channel", "channel_sku"], how="semi")
        .filter(
            ~pl.struct("order_id", "line_id").map_elements(
                lambda r: any(r["order_id"] in c and r["line_id"] in c for c in cut),
                return_dtype=pl.Boolean,
            )
        )
    )
    want = lines.group_by(
        pl.col("business_date").alias("sales_date"), "channel", "sku", "currency"
    ).agg(
        pl.col("quantity").sum().alias("units_want"),
        pl.col("net_amount").cast(pl.Float64).sum().alias("net_want"),
        pl.len().alias("lines"),
    )
    con = duckdb.connect(str(paths.warehouse), read_only=True)
    got = pl.from_arrow(
        con.sql(
            "select sales_date, channel, sku, currency, sum(units_sold) as units, "
            "cast(sum(net_sales) as double) as net from marts.fct_daily_sales "
            "where units_sold > 0 group by all"
        ).arrow()
    ).with_columns(pl.col("units").cast(pl.Int64))
    con.close()
    both = got.join(want, on=keys, how="full", coalesce=True)
    assert both.filter(pl.col("units").is_null() | pl.col("units_want").is_null()).height == 0
    assert both.filter(pl.col("units") != pl.col("units_want")).height == 0
    assert set(both["channel"]) == {"amazon", "douyin", "jd", "pos", "tmall", "web", "wechat"}
    # amounts to the cent, including Tmall and JD lines, whose order discount staging spreads
    # over the lines (the files state no line discount)
    off = both.filter((pl.col("net") - pl.col("net_want")).abs() > 0.005)
    assert off.height == 0, off.select(
        "sales_date", "channel", "sku", "net", "net_want", "lines"
    ).rows()


def test_flags_are_measured_against_the_truth(built):
    _, result = built
    (flags,) = [
        e
        for e in result.get_asset_check_evaluations()
        if e.check_name == "flags_match_the_demo_truth"
    ]
    meta = {k: v.value for k, v in flags.metadata.items()}
    assert flags.passed, meta
    assert meta["test_order_actual"] > 0 and meta["test_order_recall"] >= 0.9
    assert meta["brushing_suspect_actual"] > 0 and meta["brushing_suspect_precision"] >= 0.9
    assert meta["bot_session_actual"] > 0 and meta["bot_session_recall"] >= 0.9


def _warehouse(paths: DataPaths, sql: str) -> pl.DataFrame:
    con = duckdb.connect(str(paths.warehouse), read_only=True)
    try:
        return pl.from_arrow(con.sql(sql).arrow())
    finally:
        con.close()


def _manifest_status(paths: DataPaths) -> dict[str, str]:
    status = {}
    for f in paths.manifest_dir.glob("*.json"):
        for rel, rec in json.loads(f.read_text(encoding="utf-8"))["files"].items():
            status[rel] = rec["status"]
    return status


def test_every_planted_defect_is_quarantined_flagged_or_handled(built):
    """Each defect the generator planted (truth/defects.parquet), by kind, ends where it
    should: quarantined at its file and row, skipped by the manifest, flagged, or read."""
    paths, _ = built
    defects = pl.read_parquet(paths.truth / "defects.parquet")
    quarantine = pl.read_parquet(paths.quarantine / "*.parquet")
    status = _manifest_status(paths)
    unmapped = _warehouse(
        paths, "select source_file, source_row from intermediate.int_unmapped_channel_skus"
    )
    flags = _warehouse(paths, "select channel, order_id, flag from intermediate.int_order_flags")
    bots = set(
        _warehouse(paths, "select anonymous_id from intermediate.int_bot_sessions")["anonymous_id"]
    )
    ids = _warehouse(
        paths,
        "select source_file, identifier_type, identifier_value, is_partial from staging.stg_lake__identifiers",
    )
    quarantined_at = {
        (f, r, c)
        for f, r, c in quarantine.select("source_file", "source_row", "reason_code").iter_rows()
    }
    seen_kinds = set()
    for d in defects.iter_rows(named=True):
        kind, file, row, detail = d["kind"], d["file"], d["row"], d["detail"]
        seen_kinds.add(kind)
        where = f"{kind} at {file}:{row}"
        if kind == "exact_duplicate_row":
            assert (file, row, "duplicate_row") in quarantined_at, where
        elif kind == "truncated_file":
            assert (file, row, "ragged_row") in quarantined_at, where
        elif kind == "malformed_json_line":
            assert (file, row, "malformed_record") in quarantined_at, where
        elif kind == "duplicate_file":
            assert status[file] == "duplicate", where
        elif kind == "superseded_file":
            assert status[file] == "superseded", where
        elif kind == "corrected_redelivery":
            assert status[file] == "loaded", where
        elif kind == "unknown_channel_sku":
            assert (file, row) in set(unmapped.iter_rows()), where
        elif kind in ("test_order", "brushing_order"):
            order_id = detail.split()[1]
            flag = "test_order" if kind == "test_order" else "brushing_suspect"
            assert (d["channel"], order_id, flag) in set(flags.iter_rows()), where
        elif kind == "bot_session":
            assert detail.split()[1].rstrip(":") in bots, where
        elif kind in ("mixed_date_format", "fullwidth_or_emoji_name"):
            # read, not rejected: nothing of the file is quarantined for it
            assert status[file] == "loaded", where
            assert not {c for f, _, c in quarantined_at if f == file} - {"duplicate_row"}, where
        elif kind == "mixed_phone_formats":
            phones = ids.filter(
                (pl.col("source_file") == file) & (pl.col("identifier_type") == "phone")
            )
            assert phones.height > 0, where
            assert (
                phones.filter(~pl.col("is_partial"))["identifier_value"]
                .str.contains(r"^\+\d{8,15}$")
                .all()
            ), where
        else:
            raise AssertionError(f"no expectation for planted defect kind {kind!r}")
    assert {"exact_duplicate_row", "duplicate_file", "truncated_file", "test_order"} <= seen_kinds


def _orders_with_truth(paths: DataPaths) -> pl.DataFrame:
    """fct_orders beside the truth's real paid orders (person_id: who bought). POS receipts
    are keyed by store and receipt number in the lake ('ST-SH-01 SH01...'), by receipt
    number in the truth."""
    truth = (
        pl.read_parquet(paths.truth / "sales_lines.parquet")
        .filter(~pl.col("is_test") & pl.col("status").is_in(["paid", "shipped", "completed"]))
        .select("channel", "order_id", "person_id")
        .unique()
    )
    got = _warehouse(
        paths,
        "select channel, order_id, customer_id, customer_source, is_test, is_brushing_suspect "
        "from marts.fct_orders",
    ).with_columns(pl.col("order_id").str.split(" ").list.last().alias("truth_order_id"))
    return truth.join(
        got, left_on=["channel", "order_id"], right_on=["channel", "truth_order_id"], how="left"
    ).rename({"order_id_right": "lake_order_id"})


def test_fct_orders_holds_every_real_order_of_the_truth(built):
    """Every real paid order the generator sold is one row of fct_orders, except an order
    whose only row a truncated file cut off (quarantined)."""
    paths, _ = built
    both = _orders_with_truth(paths)
    cut = _cut_rows(paths)
    missing = both.filter(pl.col("lake_order_id").is_null())
    missing = missing.filter(
        ~pl.col("order_id").map_elements(
            lambda o: any(o in c for c in cut), return_dtype=pl.Boolean
        )
    )
    assert missing.height == 0, missing.rows()[:5]
    facts = _warehouse(
        paths, "select count(*) as n, count(distinct channel) as c from marts.fct_orders"
    )
    assert facts["c"][0] == 7
    lines = _warehouse(paths, "select count(*) as n from marts.fct_order_lines")["n"][0]
    int_lines = _warehouse(paths, "select count(*) as n from intermediate.int_order_lines")["n"][0]
    assert lines == int_lines


def test_fct_orders_carries_the_customer_of_its_identifiers(built):
    paths, _ = built
    # an order record that identity resolution linked to a customer carries that customer
    unlinked = _warehouse(
        paths,
        "select count(*) as n from marts.fct_orders o "
        "join identity.record_customers r on r.channel = o.channel and r.entity = 'orders' "
        "and r.record_id = o.order_id "
        "where r.customer_id is not null and o.customer_id is distinct from r.customer_id",
    )
    assert unlinked["n"][0] == 0
    # online channels always know their buyer; stores only for members and known phones
    share = _warehouse(
        paths,
        "select channel, avg(case when customer_id is null then 0 else 1 end) as linked "
        "from marts.fct_orders group by 1",
    )
    linked = dict(share.iter_rows())
    for channel in ("tmall", "jd", "douyin", "web", "wechat"):
        assert linked[channel] > 0.95, linked
    overall = _warehouse(
        paths,
        "select avg(case when customer_id is null then 0 else 1 end) as s from marts.fct_orders",
    )["s"][0]
    assert overall > 0.5
    # test orders and brushing suspects are carried, flagged
    flags = _warehouse(
        paths,
        "select sum(case when is_test then 1 else 0 end) as t, "
        "sum(case when is_brushing_suspect then 1 else 0 end) as b from marts.fct_orders",
    )
    assert flags["t"][0] > 0 and flags["b"][0] > 0


def test_one_person_across_channels_is_one_customer_id(built):
    """Orders the truth says one person placed on two channels, and that the identity tables
    put together, share a customer_id; and a customer_id rarely spans two persons (order
    pairs: precision of same-customer decisions on orders)."""
    paths, _ = built
    both = _orders_with_truth(paths).filter(
        pl.col("customer_id").is_not_null() & pl.col("person_id").is_not_null()
    )
    per_customer = both.group_by("customer_id").agg(
        pl.col("person_id").n_unique().alias("persons"),
        pl.col("channel").n_unique().alias("channels"),
        pl.col("person_id").first().alias("person_id"),
    )
    cross = per_customer.filter((pl.col("persons") == 1) & (pl.col("channels") > 1))
    assert cross.height > 10
    # one such person: two of their orders, two channels, one customer_id
    customer, person = (
        cross.sort("customer_id").row(0)[0],
        cross.sort("customer_id")["person_id"][0],
    )
    orders = both.filter(pl.col("customer_id") == customer).unique("channel")
    assert orders.height >= 2 and set(orders["person_id"]) == {person}
    # pairwise precision over orders: pairs with one customer_id, pairs with one person
    pairs = both.group_by("customer_id", "person_id").len()
    same_both = (pairs["len"] * (pairs["len"] - 1) // 2).sum()
    per_c = both.group_by("customer_id").len()
    same_customer = (per_c["len"] * (per_c["len"] - 1) // 2).sum()
    assert same_customer > 0 and same_both / same_customer >= 0.99


def test_dim_customers_has_one_row_per_customer_and_masked_values_stay_masked(built):
    paths, _ = built
    dim = _warehouse(paths, "select * from marts.dim_customers")
    ids = _warehouse(
        paths,
        "select count(distinct customer_id) as n from identity.customer_identifiers "
        "where customer_id is not null",
    )["n"][0]
    assert dim.height == ids == dim["customer_id"].n_unique()
    masked = dim.filter(pl.col("phone_is_masked"))
    assert masked["phone"].str.contains(r"\*").all()
    assert (
        not dim.filter(~pl.col("phone_is_masked") & pl.col("phone").is_not_null())["phone"]
        .str.contains(r"\*")
        .any()
    )
    # orders and channels agree with fct_orders' real orders
    real = _warehouse(
        paths,
        "select customer_id, count(*) as orders, count(distinct channel) as channels "
        "from marts.fct_orders where customer_id is not null and not is_test "
        "and not is_flagged_test and not is_brushing_suspect "
        "and status in ('paid', 'shipped', 'completed') group by 1",
    )
    joined = real.join(dim, on="customer_id")
    assert joined.height == real.height > 0
    assert (joined["orders"] == joined["orders_right"]).all()
    assert (joined["channels"] == joined["channels_used"]).all()
    assert (dim["channels_used"] > 1).sum() > 10
