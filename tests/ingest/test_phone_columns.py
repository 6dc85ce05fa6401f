"""Phones by column (polars, from phonenumbers' metadata) against phonenumbers one by one."""

import random

import phonenumbers
import polars as pl
import pytest

from ingest import identifiers
from ingest.identifiers import (
    _phone_columns,
    _phone_from_compact,
    _phone_plan,
    normalize_id,
    normalize_ids,
)

_DESCS = ("fixed_line", "mobile", "toll_free", "premium_rate", "shared_cost", "voip", "uan")
_OTHER_CODES = ("1", "44", "852", "86", "81", "49", "0", "7", "380")


def _mutations(rng: random.Random, digits: str) -> list[str]:
    """The number as written, and with one digit changed, and one dropped, added or tripled."""
    i = rng.randrange(len(digits)) if digits else 0
    d = str(rng.randrange(10))
    other = rng.choice(
        [digits[:i] + digits[i + 1 :], digits[:i] + d + digits[i:], digits + digits[-3:]]
    )
    return [digits, digits[:i] + d + digits[i + 1 :], other]


def _compact_samples(region: str, rng: random.Random, n_random: int) -> list[tuple[str, bool]]:
    """Spellings of the region's own example numbers (national, national prefix, +CC, IDD,
    CC without +) with one-digit mutations, random digit strings of 1-19 digits behind
    every prefix, other countries' codes, masked and junk values; each with whether it is
    written as the region's own (no other country's code)."""
    meta = phonenumbers.PhoneMetadata.metadata_for_region(region)
    cc = str(meta.country_code)
    own = ["", "+" + cc, "00" + cc, cc, "+" + cc + "0", cc + "0", "0" + cc]
    own += [meta.national_prefix or "", (meta.preferred_international_prefix or "00") + cc]
    foreign = ["+", "0", "00", "000", "011", "1", "+0", "++" + cc]
    foreign += ["+" + c for c in _OTHER_CODES] + ["00" + c for c in _OTHER_CODES]
    out: list[tuple[str, bool]] = []
    numbers = [getattr(meta, name) for name in _DESCS]
    for desc in numbers:
        if desc is None or not desc.example_number:
            continue
        for number in _mutations(rng, desc.example_number):
            out += [(p + number, True) for p in rng.sample(own, 6)]
            out += [(p + number, False) for p in rng.sample(foreign, 3)]
    for _ in range(n_random):
        digits = "".join(str(rng.randrange(10)) for _ in range(rng.randrange(1, 20)))
        out += [(rng.choice(own) + digits, True), (rng.choice(foreign) + digits, False)]
    odd = ["138****5678", "+86138****5678", "86138**5678", "8613xx5678", "****", "x", "xx12",
           "+1**", "12345678**12", "0", "00000", "+0000", "null", "N/A", "-", "+", "",
           "12#3", "123ext4", "+86 138", "1380013800a", "٣٣٣٣٣٣٣٣٣٣٣"]  # fmt: skip
    return out + [(x, False) for x in odd]


def _cn_samples(rng: random.Random, n: int) -> list[str]:
    """Chinese mobiles (valid and not: every second digit after 1), landlines with and
    without the national prefix, carrier-select prefixes, service numbers, wrong lengths."""
    out = []
    for _ in range(n):
        mobile = "1" + str(rng.randrange(10)) + "".join(str(rng.randrange(10)) for _ in range(9))
        area = rng.choice(["10", "20", "21", "22", "23", "24", "25", "27", "28", "29", "311",
                           "371", "431", "571", "591", "755", "769", "898", "999", "451"])  # fmt: skip
        local = "".join(str(rng.randrange(10)) for _ in range(rng.choice([6, 7, 8, 9])))
        carrier = rng.choice(["17951", "12593", "17911", "11808", "10193"])
        for number in (mobile, mobile[:-1], mobile + "8", "0" + area + local, area + local):
            out += [number, "+86" + number, "0086" + number, "86" + number, carrier + number]
        out += ["95" + local[:3], "400" + local[:7], "800" + local[:7], "10086", "12306"]
    return out


def _library(compact: str, region: str) -> tuple[str | None, bool | None]:
    found = _phone_from_compact(compact, region)
    return (found.value, found.is_partial) if found else (None, None)


def test_phone_columns_equal_phonenumbers_on_generated_numbers():
    """Every region phonenumbers knows (and regions it does not: the library's own answer
    then), on ~60,000 generated spellings: value and partial flag equal the library's, and
    polars settles most of them itself (the fallback is not the whole answer)."""
    rng = random.Random(20261127)
    rows = [(c, "CN", True) for c in _cn_samples(rng, 800)]
    for region in sorted(phonenumbers.SUPPORTED_REGIONS):
        rows += [(c, region, own) for c, own in _compact_samples(region, rng, 20)]
    rows += [(c, r, False) for c, _ in _compact_samples("US", rng, 100) for r in ("XX", "cn")]
    frame = pl.DataFrame(rows, schema=["__compact", "__region", "own"], orient="row")
    frame = frame.unique(["__compact", "__region"], keep="first", maintain_order=True)
    got = _phone_columns(frame.drop("own"))
    assert got.select("__compact", "__region").equals(frame.drop("own"))
    want = [_library(c, r) for c, r, _ in frame.iter_rows()]
    have = list(zip(got["value"].to_list(), got["is_partial"].to_list(), strict=True))
    diff = [(row, h, w) for row, h, w in zip(frame.iter_rows(), have, want, strict=True) if h != w]
    assert not diff, f"{len(diff)} differ, e.g. {diff[:5]}"
    assert len(frame) > 50_000
    assert sum(v is not None for v, _ in want) > 10_000  # valid numbers well represented
    # what polars leaves to the library, of the numbers written as the region's own
    share = dict(
        got.with_columns(frame["own"])
        .filter("own")
        .group_by("__region")
        .agg(pl.col("__by_library").mean())
        .iter_rows()
    )
    assert max(share[r] for r in ("CN", "US", "GB", "DE", "JP", "IN", "MX")) < 0.05, share
    # an unknown region: its national numbers are the library's answer (junk, all zeros, and
    # masks are not read in a region); after + the region plays no part
    unknown = got.filter(
        pl.col("__region") == "XX",
        pl.col("__compact").str.contains(r"^\d+$"),
        ~pl.col("__compact").str.contains("^0*$"),
    )
    assert len(unknown) > 100 and unknown["__by_library"].all()
    plus = got.filter(pl.col("__region") == "XX", pl.col("__compact").str.contains(r"^\+[1-9]\d+$"))
    assert plus["__by_library"].mean() < 0.1
    supported = [r for r in phonenumbers.SUPPORTED_REGIONS if _phone_plan(r) is not None]
    assert len(supported) > 200


@pytest.mark.parametrize("region", ["CN", "US", "GB", "HK", "DE", "JP"])
def test_valid_example_numbers_are_settled_by_polars(region):
    """The region's own example numbers, written as +CC, come out valid without the library."""
    meta = phonenumbers.PhoneMetadata.metadata_for_region(region)
    numbers = [
        "+" + str(meta.country_code) + getattr(meta, name).example_number
        for name in ("fixed_line", "mobile")
        if getattr(meta, name) is not None and getattr(meta, name).example_number
    ]
    got = _phone_columns(pl.DataFrame({"__compact": numbers, "__region": region}))
    assert got["value"].to_list() == numbers
    assert not got["__by_library"].any()


def test_normalize_ids_phones_equal_normalize_id_with_separators_and_full_width(monkeypatch):
    """Whole spellings (spaces, dashes, brackets, dots, quotes, full-width digits and
    spaces) through normalize_ids equal normalize_id row by row; a channel's region
    override (a UTC Amazon channel reading US and GB numbers) included."""
    rng = random.Random(7)
    full_width = str.maketrans("0123456789+- ", "０１２３４５６７８９＋－\u3000")
    raws = []
    for c in _cn_samples(rng, 300)[:3000]:
        cut = rng.randrange(1, max(2, len(c)))
        raws += [c, f"{c[:cut]} {c[cut:]}", f"{c[:cut]}-{c[cut:]}", f"'{c}", f" ({c[:3]}) {c[3:]}.",
                 c.translate(full_width), f"{c[:cut]}　{c[cut:]}", f"`{c}"]  # fmt: skip
    raws += ["138****5678", "１３８＊＊＊＊５６７８", "+1 206 555 0143", "(206) 555-0143",
             "020 7946 0018", "+44 20 7946 0018", "+852 2123 4567", "ext. 12", "電話13800138000"]  # fmt: skip
    rows = [(raw, region) for raw in raws for region in ("CN", "US", "GB", "")]
    frame = pl.DataFrame(
        [("phone", raw, region) for raw, region in rows],
        schema=["identifier_type", "raw", "region"],
        orient="row",
    )
    calls = []

    def library(compact, region):
        calls.append(compact)
        return _phone_from_compact(compact, region)

    with monkeypatch.context() as m:
        m.setattr(identifiers, "_phone_from_compact", library)
        got = normalize_ids(frame)
    assert got.select("identifier_type", "raw", "region").equals(frame)
    assert 0 < len(calls) < 0.05 * len(frame)  # the library only for what polars leaves
    want = [normalize_id("phone", raw, region or "CN") for raw, region in rows]
    assert got["value"].to_list() == [w.value if w else None for w in want]
    assert got["is_partial"].to_list() == [w.is_partial if w else None for w in want]
    assert sum(w is not None for w in want) > 10_000
