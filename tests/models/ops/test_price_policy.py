"""The price policy loader: the shipped file loads; bad files fail naming file and field."""

import datetime as dt

import pytest

from models.ops.price_policy import POLICY_PATH, PricePolicyError, load_price_policy

GOOD = """
version: 1
ladder:
  - {rule: marketplace_below_own_shop, channels: [tmall, jd], reference: web, max_below_pct: 10}
  - {rule: store_below_list, channels: [pos], reference: list_price, max_below_pct: 0}
map:
  default: {min_share_of_list: 0.7}
  categories: {fragrance: {min_share_of_list: 0.8}}
  skus: {SKU-1: {min_price: 99, currency: CNY}}
promotions:
  - {name: Double 11, every_year: {from: "10-20", to: "11-11"}, channels: [tmall]}
  - {name: New year, every_year: {from: "12-30", to: "01-02"}, channels: [jd]}
  - {name: Launch, from: 2025-03-01, to: 2025-03-05, channels: [web], skus: [SKU-1]}
channel_groups:
  marketplaces: [tmall, jd, douyin]
"""


def _write(tmp_path, text):
    path = tmp_path / "price_policy.yml"
    path.write_text(text, encoding="utf-8")
    return path


def test_shipped_policy_loads():
    policy = load_price_policy(POLICY_PATH)
    assert {r.rule for r in policy.ladder} >= {"marketplace_below_own_shop", "store_below_list"}
    assert policy.promotions


def test_good_policy_parses_windows_and_floors(tmp_path):
    policy = load_price_policy(_write(tmp_path, GOOD))
    d11, new_year, launch = policy.promotions
    assert d11.on(dt.date(2025, 11, 1)) and not d11.on(dt.date(2025, 11, 12))
    assert new_year.on(dt.date(2025, 12, 31)) and new_year.on(dt.date(2026, 1, 2))
    assert not new_year.on(dt.date(2026, 1, 3))
    assert launch.on(dt.date(2025, 3, 5)) and not launch.on(dt.date(2026, 3, 5))
    assert launch.covers_product("SKU-1", None) and not launch.covers_product("SKU-2", None)
    assert policy.map.floor_for("SKU-1", "fragrance").min_price == 99
    assert policy.map.floor_for("SKU-2", "fragrance").min_share_of_list == 0.8
    assert policy.map.floor_for("SKU-2", "makeup").min_share_of_list == 0.7
    assert policy.similar_channels("jd") == {"tmall", "douyin"}


@pytest.mark.parametrize(
    ("bad", "good", "field"),
    [
        ("max_below_pct: 10}", "max_below_pct: 120}", "ladder.0.max_below_pct"),
        ("reference: web,", "reference: jd,", "ladder.0"),
        ("{min_share_of_list: 0.7}", "{min_share_of_list: 0.7, min_price: 5}", "map.default"),
        ("{min_price: 99, currency: CNY}", "{min_price: 99}", "map.skus.SKU-1"),
        ('{from: "10-20", to: "11-11"}', '{from: "10-20", to: "11-31"}', "promotions.0.every_year"),
        ("to: 2025-03-05", "to: 2025-02-05", "promotions.2"),
        ("channels: [tmall]}", "channels: []}", "promotions.0.channels"),
        ("marketplaces: [tmall, jd, douyin]", "marketplaces: [tmall]", "channel_groups"),
        ("version: 1", "version: 1\nladdr: []", "laddr"),
    ],
)
def test_bad_policy_names_file_and_field(tmp_path, bad, good, field):
    assert bad in GOOD
    path = _write(tmp_path, GOOD.replace(bad, good, 1))
    with pytest.raises(PricePolicyError) as err:
        load_price_policy(path)
    message = str(err.value)
    assert str(path) in message
    assert field in message


def test_unreadable_yaml_names_file(tmp_path):
    path = _write(tmp_path, "ladder: [unclosed")
    with pytest.raises(PricePolicyError, match="price_policy.yml: cannot read"):
        load_price_policy(path)
