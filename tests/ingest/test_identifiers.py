"""The one module that normalises identifiers."""

import itertools
import re

import polars as pl
import pytest

from ingest.identifiers import (
    Identifier,
    address_frame,
    address_pattern,
    name_expr,
    normalize_address,
    normalize_email,
    normalize_id,
    normalize_ids,
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


_ID_SAMPLES = [
    "13800138000", "138-0013-8000", "+86 138 0013 8000", "'13800138000", "`+8613800138000",
    "' '13800138000", "８６１３８００１３８０００", " 138 0013 8000 ", "(138) 0013.8000",
    "138****5678", "+86138****5678", "020 7946 0018", "+1 206 555 0143", "12345", "0", "",
    "00000000000", "null", "NULL", "None", "N/A", "-", "test", "anonymous", "-1", "abc",
    " oX2mQ0abc ", "oX2mQ0abc", "'oX2mQ0abc'", '"6688100"', "ABC-123", "AbC**9", "月**9",
    "a**", "0000", "'0'", "Li.Na@Example.COM", "  Li.Na@Example.COM ", "ｌｉ＠ｅｘａｍｐｌｅ．ｃｏｍ",
    "not-an-email", "a@b", "a@b.c", "x y@z.com", "A\tB", "id\u3000x", "ＡＢＣ", "7E-5",
]  # fmt: skip


def test_normalize_ids_equals_normalize_id_row_by_row():
    """The column-wise normaliser (polars for the common case) gives what ``normalize_id``
    gives for every type, value and region, the edge cases of each step included."""
    rows = [
        (t, raw, region)
        for t in ("phone", "email", "member_no", "device_id", "wechat_openid", "user_id")
        for raw in _ID_SAMPLES
        for region in ("CN", "GB", "US", "")
    ]
    frame = pl.DataFrame(rows, schema=["identifier_type", "raw", "region"], orient="row")
    got = normalize_ids(frame)
    assert got.select("identifier_type", "raw", "region").equals(frame)
    want = [normalize_id(t, raw, region or "CN") for t, raw, region in rows]
    assert got["value"].to_list() == [w.value if w else None for w in want]
    partial = [p for p, w in zip(got["is_partial"].to_list(), want, strict=True) if w]
    assert partial == [w.is_partial for w in want if w]
    assert sum(w is not None for w in want) > 300  # the samples hit both outcomes
    with pytest.raises(ValueError, match="unknown identifier type"):
        normalize_ids(pl.DataFrame({"identifier_type": ["fax"], "raw": ["1"], "region": ["CN"]}))


@pytest.mark.parametrize("raw", ["Ｌｉ　Ｎａ 🌸", "  王  小明 ", "瑶杰✨", "", "ＡＢＣ"])
def test_name_expression_equals_the_python_normaliser(raw):
    assert pl.select(name_expr(pl.lit(raw, dtype=pl.String))).item() == normalize_name(raw)


@pytest.mark.parametrize(
    "given",
    [
        {"street": "浙江省 杭州市 西湖区文三路１２号３栋(310012)"},  # Tmall: one cell, full width
        {"street": "浙江杭州市西湖区文三路12号3栋"},  # JD: glued, province without 省
        {"province": "浙江省", "city": "杭州", "street": "西湖区 文三路12號3幢"},  # variants
        {"province": "浙江", "city": "杭州市", "district": "西湖区", "street": "文三路12号3栋"},
    ],
)
def test_addresses_in_any_layout_give_the_same_parts(given):
    parts = normalize_address(**given)
    assert parts["province"] == "浙江" and parts["city"] == "杭州"
    assert parts["district"] == "西湖区" and parts["street"] == "文三路12号3栋"


def test_address_masks_municipalities_and_latin_abbreviations():
    masked = normalize_address(street="上海上海市浦东新区****")
    assert masked == {
        "province": "上海",
        "city": "上海",
        "district": "浦东新区",
        "street": None,  # only a mask: nothing to compare
        "postcode": None,
    }
    assert normalize_address(street="江苏省 南京市 建邺区 沙洲街道****")["street"] == "沙洲街道*"
    latin = normalize_address(street="12  Oak Avenue", city="Seattle", postcode="98101 ")
    assert latin["street"] == "12 oak ave" and latin["city"] == "seattle"
    assert latin["postcode"] == "98101" and latin["district"] is None
    assert normalize_address(street="-", city="null")["city"] is None


def test_address_frame_replaces_the_columns_by_their_parts():
    frame = pl.DataFrame(
        {
            "ship_province": [None, "广东省", None],
            "ship_street": [
                "浙江省 杭州市 西湖区文三路1号(310012)",
                "广州市天河区体育西路1号",
                None,
            ],
            "other": [1, 2, 3],
        }
    )
    out = address_frame(frame, {"province": "ship_province", "street": "ship_street"})
    assert out.columns == frame.columns and out["other"].to_list() == [1, 2, 3]
    assert out["ship_province"].to_list() == ["浙江", "广东", None]
    assert out["ship_street"].to_list() == ["文三路1号", "体育西路1号", None]


@pytest.mark.parametrize(
    "raw",
    [
        "文三路12号",
        "文三路１２号",  # full-width digits
        "文三路 12 號",  # spaces, traditional 號
        "12 Main Street Apartment 3",  # written out
        "１２　Ｍａｉｎ　Ｓｔ．　Ａｐｔ　３",  # full width, ideographic spaces, a dot
    ],
)
def test_address_pattern_finds_every_raw_spelling_of_a_normalised_part(raw):
    part = normalize_address(street=raw)["street"]
    assert re.search(address_pattern(part), raw, re.IGNORECASE), (raw, part)


def test_address_pattern_keeps_numbers_whole():
    street = address_pattern(normalize_address(street="文三路12号")["street"])
    assert not re.search(street, "文三路123号") and not re.search(street, "文三路112号")
    postcode = address_pattern("310012")
    assert re.search(postcode, "杭州(３１００１２)") and not re.search(postcode, "3100120")


SAME_STREET = [
    ["123 Main Street, Apartment 4", "123 Main St. Apt. 4", "123 MAIN ST APT 4",
     "１２３ Ｍａｉｎ Ｓｔ． Ａｐｔ ４", "123 Main St, Apt 4"],
    ["No. 5 Nanjing Road, Building 2, Floor 3", "No 5 Nanjing Rd. Bldg. 2 Fl. 3",
     "Number 5 Nanjing Road Bldg 2 Floor 3"],
    ["No.5 Nanjing Road", "no.5 nanjing rd.", "Number 5 Nanjing Rd"],
    ["88 Century Avenue Suite 1201", "88 Century Ave., Ste. 1201", "88 century ave ste 1201"],
    ["文三路12号3栋", "文三路１２號３幢", "文三路 12 号 3 栋"],
    ["沙洲街道**", "沙洲街道****", "沙洲街道＊＊＊"],
]  # fmt: skip


@pytest.mark.parametrize("spellings", SAME_STREET)
def test_address_pattern_of_one_spelling_finds_the_others(spellings):
    """Erasure builds the pattern from the normalised street the lake holds, which came from
    one spelling; a landing file may hold another (an abbreviation with or without its dot, the
    word written out, a mask of another length): every spelling's pattern finds every other."""
    for a, b in itertools.permutations(spellings, 2):
        part = normalize_address(street=a)["street"]
        assert re.search(address_pattern(part), b, re.IGNORECASE), (a, part, b)


def test_abbreviations_with_a_dot_fold_like_the_word_written_out():
    assert normalize_address(street="12 Main St. Apt. 3")["street"] == "12 main st apt 3"
    assert normalize_address(street="12 Main Street Apartment 3")["street"] == "12 main st apt 3"
    main_st = address_pattern("12 main st")
    assert not re.search(main_st, "12 Main Stop", re.IGNORECASE)  # a word is whole: st, not sto
    assert not re.search(address_pattern("5 elm dr"), "5 Elm Street", re.IGNORECASE)
