"""The rules file: validated, errors name the file and the field, lookups as documented."""

from __future__ import annotations

import pytest

from models.identity.rules import RULES_PATH, RulesError, load_rules


def test_the_shipped_rules_load(rules):
    assert RULES_PATH.name == "identity.yml"
    assert rules.canonical_type["member_card"] == "member_no"  # a POS card is the CRM number
    assert rules.rollups["wechat_openid"] == "wechat_unionid"
    assert rules.rule_for("member_no") == ("strong", 10, 1)
    assert rules.rule_for("marketplace_buyer_id", "douyin")[0] == "weak"  # a phone in disguise
    assert rules.rule_for("marketplace_buyer_id", "taobao")[2] == 1
    assert rules.types["wechat_openid"].scoped


def test_blocklist_values_are_normalised_like_the_data(rules):
    assert "default phone" in rules.block_reason("phone", "+8613800138000")
    assert "shared card" in rules.block_reason("member_no", "668800001010")
    assert rules.block_reason("member_no", "668810001010") is None
    assert "all zeros" in rules.block_reason("device_id", "00000000")
    assert "test account" in rules.block_reason("user_id", "test_01")
    assert "placeholder" in rules.block_reason("anonymous_id", "Anonymous")
    assert rules.block_reason("email", "li.na@qq.com") is None
    assert rules.block_reason("phone", "+8613912345678") is None


def test_relay_emails_are_partial(rules):
    assert rules.is_partial_value("email", "x9@marketplace.amazon.co.uk")
    assert not rules.is_partial_value("email", "x9@amazon.co.uk")


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ("types:\n  phone: {strength: medium, priority: 1}\n", "types.phone.strength"),
        ("types:\n  fax: {strength: weak, priority: 1}\n", "types.fax"),
        ("types:\n  phone: {strength: weak}\n", "types.phone.priority"),
        (
            "types:\n  phone: {strength: weak, priority: 1, rolls_up_to: email}\n",
            "types.phone.rolls_up_to",
        ),
        (
            "types:\n  phone: {strength: weak, priority: 1}\nblocklist:\n  - {pattern: '(', reason: x}\n",
            "blocklist.0",
        ),
        ("types:\n  phone: {strength: weak, priority: 1, colour: red}\n", "types.phone.colour"),
    ],
)
def test_an_invalid_file_names_the_file_and_the_field(tmp_path, text, where):
    path = tmp_path / "identity.yml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(RulesError) as err:
        load_rules(path)
    assert str(path) in str(err.value)
    assert where in str(err.value)
