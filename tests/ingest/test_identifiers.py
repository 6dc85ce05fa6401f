"""The one module that normalises identifiers."""

import polars as pl
import pytest

from ingest.identifiers import (
    Identifier,
    name_expr,
    normalize_email,
    normalize_id,
    normalize_name,
    normalize_phone,
)


@pytest.mark.parametrize(
    "raw",
    [
        "13800138000",
        "138-0013-8000",
        "+86 138 0013 8000",
        "+8613800138000",
        "'13800138000",
        "８６１３８００１３８０００",
        " 138 0013 8000 ",
    ],
)
def test_chinese_mobiles_in_every_spelling_are_one_e164(raw):
    assert normalize_phone(raw) == Identifier("phone", "+8613800138000")


def test_masked_phone_is_partial_with_its_visible_digits():
    assert normalize_phone("138****5678") == Identifier("phone", "138****5678", True)
    assert normalize_phone("+86138****5678") == Identifier("phone", "138****5678", True)


@pytest.mark.parametrize(
    "raw", [None, "", "0", "00000000000", "-1", "null", "anonymous", "12345", "abc"]
)
def test_junk_and_invalid_phones_are_not_identifiers(raw):
    assert normalize_phone(raw) is None


def test_region_decides_national_numbers():
    assert normalize_phone("020 7946 0018", "GB").value == "+442079460018"
    # the same national digits are a Guangzhou landline when read as Chinese
    assert normalize_phone("020 7946 0018", "CN").value == "+862079460018"
    assert normalize_phone("+1 206 555 0143", "CN") == normalize_phone("206-555-0143", "US")


def test_emails_trimmed_lowercased_width_folded():
    assert normalize_email("  Li.Na@Example.COM ") == Identifier("email", "li.na@example.com")
    assert normalize_email("ｌｉ＠ｅｘａｍｐｌｅ．ｃｏｍ").value == "li@example.com"
    assert normalize_email("not-an-email") is None


def test_platform_ids_typed_blurred_values_partial_junk_dropped():
    assert normalize_id("wechat_unionid", " oX2mQ0abc ") == Identifier(
        "wechat_unionid", "oX2mQ0abc"
    )
    assert normalize_id("device_id", "ABC-123") == Identifier("device_id", "abc-123")
    assert normalize_id("marketplace_buyer_id", "月**9") == Identifier(
        "marketplace_buyer_id", "月**9", True
    )
    assert normalize_id("member_no", "0000") is None
    with pytest.raises(ValueError, match="unknown identifier type"):
        normalize_id("fax", "123")


@pytest.mark.parametrize("raw", ["Ｌｉ　Ｎａ 🌸", "  王  小明 ", "瑶杰✨", "", "ＡＢＣ"])
def test_name_expression_equals_the_python_normaliser(raw):
    assert pl.select(name_expr(pl.lit(raw, dtype=pl.String))).item() == normalize_name(raw)
