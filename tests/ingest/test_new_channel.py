"""A channel the demo does not have, added with a spec and no code change: vending
machines that export one GBK CSV per machine per day, and a call centre's order sheet
(tab-separated, English headers, times with an offset)."""

from __future__ import annotations

import polars as pl

from ingest.engine import ingest_channel
from ingest.reconcile import reconcile
from ingest.spec import load_spec

VENDING_SPEC = """
channel: vending
description: Vending machines in office lobbies; one CSV per machine per day (GBK).
timezone: Asia/Shanghai
currency: CNY
sources:
  - name: sales
    pattern: "VM*/*.csv"
    path_fields: '^(?P<machine>VM\\d+)/'
    file_key: '^(?P<day>\\d{8})(?:_v(?P<version>\\d+))?\\.csv$'
    format: csv
    entities:
      order_lines:
        fields:
          order_id: {from: 交易号, required: true}
          line_id: {value: "1"}
          order_ts: {from: 交易时间, type: timestamp, required: true, formats: ["%Y/%m/%d %H:%M"]}
          location_id: {from: path.machine}
          status: {from: 状态, required: true, map: {成功: completed, 退款: cancelled}}
          channel_sku: {from: 货道商品, required: true}
          quantity: {value: 1, type: int}
          unit_price: {from: 金额(分), type: decimal, divisor: 100, required: true, min: 0}
          discount: {value: 0, type: decimal}  # machines sell at the shelf price
      orders:
        fields:
          order_id: {from: 交易号, required: true}
          order_ts: {from: 交易时间, type: timestamp, required: true, formats: ["%Y/%m/%d %H:%M"]}
          location_id: {from: path.machine}
          status: {from: 状态, required: true, map: {成功: completed, 退款: cancelled}}
          payment_method: {from: 支付方式}
        identifiers:
          payer: {from: 付款人, type: wechat_openid, scope_from: path.machine}
"""

CALL_CENTRE_SPEC = """
channel: callcentre
description: Telephone orders keyed by agents; a weekly TSV.
timezone: Europe/London
currency: GBP
phone_region: GB
sources:
  - name: orders
    pattern: "orders_*.tsv"
    format: tsv
    entities:
      order_lines:
        fields:
          order_id: {from: OrderRef, required: true}
          line_id: {from: Line, required: true}
          order_ts: {from: Taken, type: timestamp, required: true, formats: ["%Y-%m-%dT%H:%M:%S%z"]}
          status: {from: State, required: true, map: {OK: paid, VOID: cancelled}}
          channel_sku: {from: Item, required: true}
          quantity: {from: Qty, type: int, required: true, min: 1}
          line_total: {from: Total, type: decimal, required: true, min: 0}
          discount: {from: Discount, type: decimal}
      orders:
        one_row_per: [order_id]
        fields:
          order_id: {from: OrderRef, required: true}
          order_ts: {from: Taken, type: timestamp, required: true, formats: ["%Y-%m-%dT%H:%M:%S%z"]}
          status: {from: State, required: true, map: {OK: paid, VOID: cancelled}}
        identifiers:
          caller: {from: Phone, type: phone}
"""


def test_vending_machines_with_a_spec_only(data_dir, tmp_path):
    spec_file = tmp_path / "vending.yml"
    spec_file.write_text(VENDING_SPEC, encoding="utf-8")
    spec = load_spec(spec_file)
    rows = [
        "交易号,交易时间,货道商品,金额(分),状态,支付方式,付款人",
        "T1,2025/03/01 08:15,QH-SK-001,12900,成功,微信,oVM_abc",
        "T2,2025/03/01 12:40,QH-BD-002,5900,退款,支付宝,",
        "T3,2025/03/01 13:00,QH-SK-001,abc,成功,微信,oVM_def",
    ]
    target = data_dir.landing / "vending" / "VM007" / "20250301.csv"
    target.parent.mkdir(parents=True)
    target.write_bytes(("\n".join(rows) + "\n").encode("gbk"))
    report = ingest_channel(spec, data_dir)
    assert report.count("loaded") == 1
    lines = pl.read_parquet(data_dir.lake_raw / "order_lines" / "vending__*.parquet").sort(
        "order_id"
    )
    assert lines["order_id"].to_list() == ["T1", "T2"]
    assert [float(x) for x in lines["net_amount"]] == [129.0, 59.0]
    assert lines["location_id"].to_list() == ["VM007", "VM007"]
    assert str(lines["order_ts"][0]) == "2025-03-01 00:15:00"  # 08:15 Beijing in UTC
    q = pl.read_parquet(data_dir.quarantine / "vending__*.parquet")
    assert set(q["source_row"]) == {3} and set(q["reason_code"]) == {"invalid_value"}
    # the order of T3 is valid (only its line's amount is not): its payer is kept
    ids = pl.read_parquet(data_dir.lake_raw / "identifiers" / "vending__*.parquet")
    assert sorted(ids.select("identifier_value", "scope").rows()) == [
        ("oVM_abc", "VM007"),
        ("oVM_def", "VM007"),
    ]
    assert all(b.missing == 0 for b in reconcile(data_dir, {"vending": spec}))


def test_call_centre_tsv_with_line_totals_and_uk_phones(data_dir, tmp_path):
    spec_file = tmp_path / "callcentre.yml"
    spec_file.write_text(CALL_CENTRE_SPEC, encoding="utf-8")
    spec = load_spec(spec_file)
    rows = [
        "OrderRef\tLine\tTaken\tState\tItem\tQty\tTotal\tDiscount\tPhone",
        "C-1\t1\t2025-06-01T10:00:00+01:00\tOK\tQH-FR-001\t2\t153.98\t10.00\t020 7946 0018",
        "C-1\t2\t2025-06-01T10:00:00+01:00\tOK\tQH-FR-002\t1\t116.99\t\t020 7946 0018",
    ]
    target = data_dir.landing / "callcentre" / "orders_2025w22.tsv"
    target.parent.mkdir(parents=True)
    target.write_text("\n".join(rows) + "\n", encoding="utf-8")
    ingest_channel(spec, data_dir)
    lines = pl.read_parquet(data_dir.lake_raw / "order_lines" / "callcentre__*.parquet").sort(
        "line_id"
    )
    assert [float(x) for x in lines["unit_price"]] == [76.99, 116.99]
    # line 1 states its discount; line 2 states none, so staging allocates the order's
    assert float(lines["net_amount"][0]) == 143.98
    assert lines["net_amount"][1] is None and lines["discount"][1] is None
    assert str(lines["business_date"][0]) == "2025-06-01"
    ids = pl.read_parquet(data_dir.lake_raw / "identifiers" / "callcentre__*.parquet")
    assert ids["identifier_value"].to_list() == ["+442079460018"]
