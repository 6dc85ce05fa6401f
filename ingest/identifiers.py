"""Identifier normalisation: the one module that turns raw phones, emails, names and
platform ids into typed, comparable values. Every other module calls these functions.

A normalised identifier is ``(type, value, is_partial)``. Masked phones such as
``138****5678`` cannot be made whole; they are kept as partial identifiers holding the
visible digits (``138****5678``) so that later matching can use them as weak evidence.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

import phonenumbers
import polars as pl

IDENTIFIER_TYPES = (
    "phone",
    "email",
    "member_no",
    "member_card",
    "wechat_unionid",
    "wechat_openid",
    "wecom_external_userid",
    "device_id",
    "anonymous_id",
    "user_id",
    "marketplace_buyer_id",
    "douyin_user_id",
    "social_account_id",
)

_MASK_CHARS = "*＊xX•"
_MASKED_PHONE = re.compile(r"^\+?(\d{0,5})[*＊xX•]{2,}(\d{0,4})$")
_JUNK = {"", "0", "-1", "null", "none", "nan", "n/a", "na", "-", "anonymous", "unknown", "test"}


@dataclass(frozen=True)
class Identifier:
    type: str
    value: str
    is_partial: bool = False


def fold_width(text: str) -> str:
    """Fold full-width characters (ＡＢＣ１２３, full-width space) to their ASCII forms."""
    return unicodedata.normalize("NFKC", text)


def clean_text(value: object) -> str | None:
    """Trim, fold width, collapse inner whitespace; None for empty."""
    if value is None:
        return None
    text = " ".join(fold_width(str(value)).split())
    return text or None


def is_junk(value: str | None) -> bool:
    if value is None:
        return True
    text = value.strip()
    return text.lower() in _JUNK or not text.strip("0")  # only zeros


@lru_cache(maxsize=262_144)
def normalize_phone(raw: object, region: str = "CN") -> Identifier | None:
    """Phone to E.164, or a partial identifier when masked; None when not a phone.

    >>> normalize_phone("138-0013-8000")
    Identifier(type='phone', value='+8613800138000', is_partial=False)
    >>> normalize_phone("138****5678")
    Identifier(type='phone', value='138****5678', is_partial=True)
    """
    text = clean_text(raw)
    if text is None:
        return None
    text = text.lstrip("'`").strip()
    return _phone_from_compact(re.sub(r"[\s\-().]", "", text), region)


@lru_cache(maxsize=262_144)
def _phone_from_compact(compact: str, region: str) -> Identifier | None:
    """``normalize_phone`` after its text steps: ``compact`` is trimmed, stripped of leading
    quotes and of spaces, dashes, brackets and dots."""
    if is_junk(compact):
        return None
    if any(c in compact for c in _MASK_CHARS):
        m = _MASKED_PHONE.match(compact)
        if not m or not (m.group(1) or m.group(2)):
            return None
        head, tail = m.group(1), m.group(2)
        if head.startswith("86") and len(head) > 3:
            head = head[2:]
        return Identifier("phone", f"{head}****{tail}", True)
    try:
        parsed = phonenumbers.parse(compact, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(parsed):
        return None
    return Identifier(
        "phone", phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
    )


_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def normalize_email(raw: object) -> Identifier | None:
    """Trim, fold width, lower-case; None when it is not an address."""
    text = clean_text(raw)
    if text is None:
        return None
    text = text.replace(" ", "").lower()
    if not _EMAIL.match(text):
        return None
    return Identifier("email", text)


def normalize_name(raw: object) -> str | None:
    """Personal names: width folded, whitespace collapsed; emoji and symbols kept as written."""
    return clean_text(raw)


def name_expr(expr: pl.Expr) -> pl.Expr:
    """``normalize_name`` as a polars expression, for whole columns of names."""
    folded = expr.str.normalize("NFKC").str.replace_all(r"\s+", " ").str.strip_chars()
    return pl.when(folded == "").then(None).otherwise(folded)


_MASK_RUN = re.compile(r"[*＊•]{2,}")


def normalize_id(id_type: str, raw: object, region: str = "CN") -> Identifier | None:
    """Platform ids (member_no, openid, unionid, device id, buyer id...): trimmed and typed.

    Phones and emails go through their own normalisers (``region`` is the default country
    of national phone numbers). A value with a run of mask characters (a blurred nick,
    ``月**9``) is kept as a partial identifier: two buyers can share it.
    """
    if id_type == "phone":
        return normalize_phone(raw, region or "CN")
    if id_type == "email":
        return normalize_email(raw)
    if id_type not in IDENTIFIER_TYPES:
        raise ValueError(
            f"unknown identifier type {id_type!r}; known: {', '.join(IDENTIFIER_TYPES)}"
        )
    text = clean_text(raw)
    if text is None:
        return None
    text = text.strip("'`\"")
    if is_junk(text):
        return None
    if id_type == "device_id":
        text = text.lower()
    return Identifier(id_type, text, bool(_MASK_RUN.search(text)))


_ID_TYPES_PLAIN = [t for t in IDENTIFIER_TYPES if t not in ("phone", "email")]


def _as_columns(found: list[Identifier | None]) -> list[pl.Series]:
    return [
        pl.Series("value", [x.value if x else None for x in found], dtype=pl.String),
        pl.Series("is_partial", [x.is_partial if x else None for x in found], dtype=pl.Boolean),
    ]


def normalize_ids(frame: pl.DataFrame) -> pl.DataFrame:
    """``normalize_id`` over a frame of ``identifier_type``, ``raw`` (text) and ``region``
    (distinct rows are best): the frame with ``value`` (null: not an identifier) and
    ``is_partial``. Equal to calling ``normalize_id`` row by row; the common case is done by
    polars over whole columns: values of printable ASCII without spaces (where folding width
    and whitespace change nothing) for platform ids and e-mails; for phones written in ASCII
    or full-width forms, the text steps (fold, trim, leading quotes, separators), then junk,
    masks and the number itself (``_phone_columns``: ``phonenumbers``' rules as expressions,
    the library once per distinct compact form only for what they leave open). Every other
    row is handed to ``normalize_id`` itself."""
    typ, raw = pl.col("identifier_type"), pl.col("raw")
    region = pl.when(pl.col("region").is_null() | (pl.col("region") == "")).then(pl.lit("CN"))
    region = region.otherwise(pl.col("region"))
    f = frame.with_row_index("__i").with_columns(
        raw.str.contains(r"^[!-~]+$").fill_null(False).alias("__plain"),
        region.alias("__region"),
    )
    # platform ids: trimmed of quotes, junk dropped, device ids lower-cased, masked = partial
    text = raw.str.strip_chars("'`\"")
    junk = text.str.to_lowercase().is_in(sorted(_JUNK)) | text.str.contains(r"^0*$")
    plain_id = pl.col("__plain") & typ.is_in(_ID_TYPES_PLAIN)
    id_value = pl.when(typ == "device_id").then(text.str.to_lowercase()).otherwise(text)
    # e-mails: lower-cased, kept when they look like an address
    email = raw.str.to_lowercase()
    plain_email = pl.col("__plain") & (typ == "email")
    email_ok = email.str.contains(_EMAIL.pattern)
    fast = f.filter(plain_id | plain_email).select(
        "__i",
        pl.when(plain_email)
        .then(pl.when(email_ok).then(email))
        .otherwise(pl.when(~junk).then(id_value))
        .alias("value"),
        pl.when(plain_email)
        .then(pl.lit(False))
        .otherwise(id_value.str.contains(_MASK_RUN.pattern))
        .alias("is_partial"),
    )
    # phones of (folded) ASCII text: the text steps of ``normalize_phone``, then the number
    phones = f.filter(typ == "phone").with_columns(
        raw.str.contains(r"^[ -~]*$").fill_null(False).alias("__ascii"),
        # full-width forms (U+FF01-FF5E) and the ideographic space fold to printable ASCII
        raw.str.contains("^[ -~\u3000\uff01-\uff5e]*$").fill_null(False).alias("__wide"),
    )
    folded = pl.when(pl.col("__ascii")).then(raw).otherwise(raw.str.normalize("NFKC"))
    phone = phones.filter(pl.col("__wide")).select(
        "__i",
        folded.str.strip_chars(" ")
        .str.strip_chars_start("'`")
        .str.strip_chars(" ")
        .str.replace_all(r"[ \-().]", "")
        .alias("__compact"),
        "__region",
    )
    pairs = _phone_columns(phone.select("__compact", "__region").unique())
    phone = phone.join(pairs, on=["__compact", "__region"], how="left").select(
        "__i", "value", "is_partial"
    )
    # the rows neither ``fast`` nor ``phone`` settle
    rest = pl.concat(
        [
            f.filter(~(plain_id | plain_email | (typ == "phone")).fill_null(False)),
            phones.filter(~pl.col("__wide")).select(f.columns),
        ]
    )
    found = [
        normalize_id(t, v, r) if v is not None else None
        for t, v, r in rest.select("identifier_type", "raw", "__region").iter_rows()
    ]
    rest = rest.select("__i").with_columns(_as_columns(found))
    out = pl.concat([fast, phone, rest]).sort("__i")  # each row of ``frame`` once
    return frame.hstack(out.select("value", "is_partial"))


# --------------------------------------------------------------------------- phones by column
# ``phonenumbers.parse`` + ``is_valid_number`` + E.164, for the common spellings of a phone
# (digits, optionally after ``+``), as polars expressions built from ``phonenumbers``' own
# metadata for the region (after ``+`` or an IDD: for the country code's main region): its
# country code, international and national prefixes, and the patterns and possible lengths
# of each number type. Each step mirrors the library's function of the same role (named in
# the comments); what a step cannot settle with certainty (a country code the library does
# not know, a prefix a transform rule rewrites, a region whose patterns polars cannot
# compile...) is marked for ``_phone_from_compact``, the library itself.
# ``tests/ingest/test_phone_columns.py`` runs both on a large generated set: equal.
_PHONE_DESCS = (  # in the order of phonenumberutil._number_type_helper
    "premium_rate",
    "toll_free",
    "shared_cost",
    "voip",
    "personal_number",
    "pager",
    "uan",
    "voicemail",
    "fixed_line",
)
_NSN_MIN, _NSN_MAX = 2, 17  # phonenumberutil._MIN_LENGTH_FOR_NSN, _MAX_LENGTH_FOR_NSN
_PHONE_MAX_DIGITS = 40  # longer digit strings are left to phonenumbers


@dataclass(frozen=True)
class _Desc:
    """A ``PhoneNumberDesc``: its pattern, and the lengths it allows (empty: any)."""

    pattern: str
    lengths: tuple[int, ...]


@dataclass(frozen=True)
class _Territory:
    """What validity needs of one region sharing the country code."""

    leading_digits: str | None
    general: _Desc | None
    types: tuple[_Desc, ...]  # any of them makes a number valid (with general)
    mobile: _Desc | None  # checked only when fixed-line and mobile patterns differ


@dataclass(frozen=True)
class _PhonePlan:
    cc: str
    idd: str | None
    national_prefix: str | None  # national_prefix_for_parsing
    transform: bool  # a rule may rewrite the national prefix: those numbers go to phonenumbers
    general: str  # the region's general national number pattern
    kept_lengths: tuple[int, ...]  # lengths where parse keeps a stripped national prefix
    too_long: tuple[int, ...]  # lengths _test_number_length calls TOO_LONG
    territories: tuple[_Territory, ...]  # the regions of the country code, in library order


def _polars_regex(pattern: str | None) -> bool:
    """True when polars (Rust ``regex``) compiles ``pattern``; metadata patterns use only
    classes, groups, alternation and counted repetition, which both engines read alike."""
    if not pattern:
        return True
    if "(?=" in pattern or "(?!" in pattern or "(?<" in pattern or re.search(r"\\[1-9]", pattern):
        return False
    try:
        pl.select(pl.lit("0").str.contains(pattern))
    except pl.exceptions.PolarsError:
        return False
    return True


def _desc(d: object) -> _Desc | None:
    pattern = getattr(d, "national_number_pattern", None)
    if not pattern:
        return None  # phonenumberutil._match_national_number: no pattern, no match
    return _Desc(pattern, tuple(getattr(d, "possible_length", None) or ()))


@lru_cache(maxsize=1024)  # regions come from the data (Amazon's ship-country)
def _phone_plan(region: str) -> _PhonePlan | None:
    """The expressions' inputs for ``region``, or None when its numbers are left to
    ``phonenumbers`` (unknown region, not the main region of its country code, a pattern
    polars cannot compile)."""
    from phonenumbers import phonenumberutil as pnu

    if region not in phonenumbers.SUPPORTED_REGIONS:
        return None
    meta = phonenumbers.PhoneMetadata.metadata_for_region(region, None)
    # a number with this region's country code is read with the main region's metadata
    if meta is None or phonenumbers.region_code_for_country_code(meta.country_code) != region:
        return None
    cc = meta.country_code
    if not meta.general_desc.national_number_pattern or not meta.general_desc.possible_length:
        return None
    if (
        meta.national_prefix_transform_rule
        and not re.compile(meta.national_prefix_for_parsing or "").groups
    ):
        return None  # the library itself would fail on such a prefix
    if any(int(str(cc)[:i]) in pnu.COUNTRY_CODE_TO_REGION_CODE for i in range(1, len(str(cc)))):
        return None  # a shorter country code would be read first (_extract_country_code)
    territories = []
    for code in pnu.COUNTRY_CODE_TO_REGION_CODE[cc]:
        m = phonenumbers.PhoneMetadata.metadata_for_region(code.upper(), None)
        if m is None:
            continue
        territories.append(
            _Territory(
                m.leading_digits,
                _desc(m.general_desc),
                tuple(d for d in (_desc(getattr(m, n)) for n in _PHONE_DESCS) if d),
                None if m.same_mobile_and_fixed_line_pattern else _desc(m.mobile),
            )
        )
    # _test_number_length depends only on the number's length
    results = {n: pnu._test_number_length("5" * n, meta) for n in range(_PHONE_MAX_DIGITS + 1)}
    not_kept = (
        pnu.ValidationResult.TOO_SHORT,
        pnu.ValidationResult.IS_POSSIBLE_LOCAL_ONLY,
        pnu.ValidationResult.INVALID_LENGTH,
    )
    plan = _PhonePlan(
        cc=str(cc),
        idd=meta.international_prefix,
        national_prefix=meta.national_prefix_for_parsing,
        transform=bool(meta.national_prefix_transform_rule),
        general=meta.general_desc.national_number_pattern,
        kept_lengths=tuple(n for n, r in results.items() if r not in not_kept),
        too_long=tuple(n for n, r in results.items() if r == pnu.ValidationResult.TOO_LONG),
        territories=tuple(territories),
    )
    patterns = [plan.idd, plan.national_prefix, plan.general]
    for t in plan.territories:
        patterns += [t.leading_digits, t.mobile and t.mobile.pattern]
        patterns += [d.pattern for d in (t.general, *t.types) if d]
    return plan if all(_polars_regex(p) for p in patterns) else None


def _fullmatch(expr: pl.Expr, pattern: str) -> pl.Expr:
    return expr.str.contains(f"^(?:{pattern})$")  # re_util.fullmatch


def _desc_matches(number: pl.Expr, desc: _Desc | None) -> pl.Expr:
    """phonenumberutil._is_number_matching_desc"""
    if desc is None:
        return pl.lit(False)
    ok = _fullmatch(number, desc.pattern)
    return number.str.len_bytes().is_in(desc.lengths) & ok if desc.lengths else ok


def _valid_expr(number: pl.Expr, plan: _PhonePlan) -> pl.Expr:
    """is_valid_number: the first region of the country code whose leading digits match (or,
    without leading digits, whose types match) decides (_region_code_for_number_from_list),
    by _number_type_helper != UNKNOWN."""
    out = pl.lit(False)
    for t in reversed(plan.territories):
        kinds = [_desc_matches(number, d) for d in t.types]
        if t.mobile is not None:
            kinds.append(_desc_matches(number, t.mobile))
        valid = _desc_matches(number, t.general) & pl.any_horizontal(kinds)
        if len(plan.territories) == 1:
            return valid
        chosen = number.str.contains(f"^(?:{t.leading_digits})") if t.leading_digits else valid
        out = pl.when(chosen).then(valid).otherwise(out)
    return out


def _strip_national_prefix(number: pl.Expr, plan: _PhonePlan) -> tuple[pl.Expr, pl.Expr]:
    """phonenumberutil._maybe_strip_national_prefix_carrier_code: the number, and whether it
    is left to phonenumbers (a prefix its transform rule would rewrite)."""
    if not plan.national_prefix:
        return number, pl.lit(False)
    pattern = f"^(?:{plan.national_prefix})"
    found = number.str.extract(pattern, 0)
    matched = found.is_not_null() & (number != "")
    if plan.transform:  # the rule applies when the last group took part in the match
        groups = re.compile(plan.national_prefix).groups
        rewritten = matched & number.str.extract(pattern, groups).is_not_null()
        matched, undecided = matched & ~rewritten, rewritten
    else:
        undecided = pl.lit(False)
    rest = number.str.slice(found.str.len_bytes())
    keep = _fullmatch(number, plan.general) & ~_fullmatch(rest, plan.general)
    return pl.when(matched & ~keep).then(rest).otherwise(number), undecided


_SETTLED = {"__j": pl.UInt32, "__e164": pl.String, "__undecided": pl.Boolean}


def _settle(frame: pl.DataFrame, none: pl.Expr, undecided: pl.Expr) -> pl.DataFrame:
    """The rows a step settles: no number (``none``) or left to phonenumbers (``undecided``,
    when both hold, the one that the library meets first is given first by the caller)."""
    return frame.filter(none | undecided).select(
        "__j", pl.lit(None, pl.String).alias("__e164"), undecided.alias("__undecided")
    )


def _phones_of_region(frame: pl.DataFrame, plan: _PhonePlan) -> tuple[pl.DataFrame, ...]:
    """parse's country-code step on ``__d`` (digits not after ``+``) read in the plan's
    region (_maybe_extract_country_code): the settled rows, the rows with an international
    prefix (``__rest`` after it), and the national ones (``__cc``, ``__n0``)."""
    d, cc = pl.col("__d"), plan.cc
    length = d.str.len_bytes()
    # _maybe_strip_i18n_prefix_and_normalize / _parse_prefix_as_idd: an IDD followed by 0
    # is not stripped (the library then reads on; left to it here)
    idd = d.str.extract(f"^(?:{plan.idd})", 0) if plan.idd else pl.lit(None, pl.String)
    after = d.str.slice(idd.str.len_bytes().fill_null(0))
    f = frame.with_columns(
        __none=length < _NSN_MIN,  # _is_viable_phone_number
        __intl=idd.is_not_null(),
        __idd_zero=idd.is_not_null() & after.str.starts_with("0"),
        __rest=after,
    )
    # the region's own code at the start, when the number is not a national one as it
    # stands, or is too long
    stripped, undecided = _strip_national_prefix(d.str.slice(len(cc)), plan)
    lead = d.str.starts_with(cc)
    accept = lead & (
        (~_fullmatch(d, plan.general) & _fullmatch(stripped, plan.general))
        | length.is_in(plan.too_long)
    )
    f = f.with_columns(
        __undecided=pl.col("__idd_zero") | ~pl.col("__intl") & lead & undecided,
        __cc=pl.lit(cc),
        __n0=pl.when(accept).then(stripped).otherwise(d),
    )
    none, undecided, intl = pl.col("__none"), pl.col("__undecided"), pl.col("__intl")
    settled = _settle(f, none, ~none & undecided)
    open_ = f.filter(~none & ~undecided)
    return settled, open_.filter(intl), open_.filter(~intl)


def _phones_after_prefix(frame: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """``__rest`` after ``+`` or an IDD (_maybe_extract_country_code, _extract_country_code):
    the settled rows, and the others with ``__cc`` (the first known code of 1-3 digits) and
    ``__n0``. A code the library does not know is left to it (its retry without the +)."""
    from phonenumbers import phonenumberutil as pnu

    rest = pl.col("__rest")
    codes = [str(c) for c in pnu.COUNTRY_CODE_TO_REGION_CODE]
    cc = pl.lit(None, pl.String)
    for n in (3, 2, 1):
        head = rest.str.slice(0, n)
        cc = pl.when((rest.str.len_bytes() >= n) & head.is_in(codes)).then(head).otherwise(cc)
    f = frame.with_columns(__cc=pl.when(~rest.str.starts_with("0")).then(cc))
    f = f.with_columns(__n0=rest.str.slice(pl.col("__cc").str.len_bytes()))
    none = rest.str.len_bytes() <= _NSN_MIN  # TOO_SHORT_AFTER_IDD
    undecided = pl.col("__cc").is_null()
    return _settle(f, none, ~none & undecided), f.filter(~none & ~undecided)


def _phones_national(frame: pl.DataFrame, plan: _PhonePlan) -> pl.DataFrame:
    """The rest of parse on ``__n0``, the national number of the plan's country code, then
    is_valid_number and E.164: ``__e164`` (null: no valid number) and ``__undecided``."""
    n0 = pl.col("__n0")
    n1, undecided_np = _strip_national_prefix(n0, plan)
    # a stripped national prefix is kept when the length then fits (_test_number_length)
    n = pl.when(n1.str.len_bytes().is_in(plan.kept_lengths)).then(n1).otherwise(n0)
    f = frame.with_columns(__n=n, __undecided_np=undecided_np)
    n, nlen = pl.col("__n"), pl.col("__n").str.len_bytes()
    # in parse's order: what raises first wins
    undecided = (
        pl.when(n0.str.len_bytes() < _NSN_MIN)
        .then(False)
        .when(pl.col("__undecided_np"))
        .then(True)
        .when((nlen < _NSN_MIN) | (nlen > _NSN_MAX))
        .then(False)
        .otherwise(n.str.contains("^0+$"))  # a zero national number: format_number's own case
    )
    none = (n0.str.len_bytes() < _NSN_MIN) | (nlen < _NSN_MIN) | (nlen > _NSN_MAX)
    e164 = pl.when(~none & ~undecided & _valid_expr(n, plan)).then(pl.lit("+" + plan.cc) + n)
    return f.select("__j", e164.alias("__e164"), undecided.alias("__undecided"))


def _phone_numbers(numbers: pl.DataFrame) -> pl.DataFrame:
    """phonenumbers.parse, is_valid_number and E.164 on digit strings ``__d``, after a ``+``
    (``__plus``) or not, read in ``__region``: ``__e164`` and ``__undecided`` by ``__j``.
    Numbers after ``+`` need no region; national ones need a region with a plan."""
    settled = [
        _settle(numbers, pl.col("__plus") & (pl.col("__d").str.len_bytes() < 3), pl.lit(False))
    ]  # _is_viable_phone_number: three digits after +
    plus = numbers.filter(pl.col("__plus"), pl.col("__d").str.len_bytes() >= 3)
    intl = [plus.with_columns(__rest=pl.col("__d"))]
    national = []
    domestic = numbers.filter(~pl.col("__plus"))
    for (region,), part in domestic.partition_by("__region", as_dict=True).items():
        plan = _phone_plan(region)
        if plan is None:
            settled.append(_settle(part, pl.lit(False), pl.lit(True)))
            continue
        done, prefixed, own = _phones_of_region(part, plan)
        settled.append(done)
        intl.append(prefixed)
        national.append(own.select("__j", "__cc", "__n0"))
    cols = ["__j", "__rest"]
    done, coded = _phones_after_prefix(pl.concat([x.select(cols) for x in intl]))
    settled.append(done)
    national.append(coded.select("__j", "__cc", "__n0"))
    from phonenumbers import phonenumberutil as pnu

    for (cc,), part in pl.concat(national).partition_by("__cc", as_dict=True).items():
        plan = _phone_plan(pnu.region_code_for_country_code(int(cc)))
        if plan is None:
            settled.append(_settle(part, pl.lit(False), pl.lit(True)))
        else:
            settled.append(_phones_national(part, plan))
    return pl.concat([x.select(_SETTLED.keys()).cast(_SETTLED) for x in settled])


def _phone_columns(pairs: pl.DataFrame) -> pl.DataFrame:
    """``_phone_from_compact`` over a frame of distinct ``__compact`` (ASCII) and
    ``__region``: the frame with ``value`` and ``is_partial``, equal to calling it row by row.
    Junk, masked phones and strings of digits (after ``+``, or read in a region with a plan)
    are settled by polars; the rest by ``_phone_from_compact`` itself, one call per row
    (``__by_library``)."""
    s = pl.col("__compact")
    masked = s.str.extract_groups(_MASKED_PHONE.pattern)
    head, tail = masked.struct.field("1"), masked.struct.field("2")
    head86 = head.str.starts_with("86") & (head.str.len_chars() > 3)
    f = pairs.with_row_index("__j").with_columns(
        __junk=s.str.to_lowercase().is_in(sorted(_JUNK)) | s.str.contains("^0*$"),
        __masked=s.str.contains(f"[{re.escape(_MASK_CHARS)}]"),
        __mask_value=pl.when((head != "") | (tail != "")).then(
            pl.when(head86).then(head.str.slice(2)).otherwise(head) + pl.lit("****") + tail
        ),
        __d=s.str.strip_prefix("+"),
        __plus=s.str.starts_with("+"),
        __digits=s.str.contains(rf"^\+?[0-9]{{1,{_PHONE_MAX_DIGITS}}}$"),
    )
    numbers = f.filter(~pl.col("__junk") & ~pl.col("__masked") & pl.col("__digits"))
    f = f.join(_phone_numbers(numbers), on="__j", how="left")
    f = f.with_columns(
        __by_library=~pl.col("__junk")
        & ~pl.col("__masked")
        & pl.col("__undecided").fill_null(True),
        value=pl.when(pl.col("__junk"))
        .then(None)
        .when(pl.col("__masked"))
        .then(pl.col("__mask_value"))
        .otherwise(pl.col("__e164")),
    )
    rest = f.filter(pl.col("__by_library"))
    found = [_phone_from_compact(c, r) for c, r in rest.select("__compact", "__region").iter_rows()]
    rest = rest.select("__j").with_columns(_as_columns(found))
    f = f.join(rest, on="__j", how="left", suffix="_lib").with_columns(
        value=pl.when(pl.col("__by_library")).then(pl.col("value_lib")).otherwise("value")
    )
    return f.sort("__j").select(
        *pairs.columns,
        "value",
        pl.when(pl.col("value").is_not_null()).then(pl.col("__masked")).alias("is_partial"),
        "__by_library",
    )


# --------------------------------------------------------------------------- addresses
# A delivery address in five comparable parts. Chinese exports give it whole
# (Tmall 收货地址 ``浙江省 杭州市 西湖区文三路1号(310000)``, JD 客户地址 ``浙江杭州市西湖区****``)
# or in columns (Douyin 省/市/区/详细地址, WeChat and Shopify province/city/address1).
ADDRESS_PARTS = ("province", "city", "district", "street", "postcode")

_HAN = "\u4e00-\u9fff"
_MUNICIPALITY = re.compile(r"^(北京|上海|天津|重庆)(?:市)?")
_PROVINCE = re.compile(
    rf"^([{_HAN}]{{2,7}}?)(?:省|壮族自治区|回族自治区|维吾尔自治区|自治区|特别行政区)"
)
# province-level divisions by their short names, as exports often write them (浙江杭州市…)
_PROVINCE_NAMES = [
    "黑龙江",
    "内蒙古",
    "河北",
    "山西",
    "辽宁",
    "吉林",
    "江苏",
    "浙江",
    "安徽",
    "福建",
    "江西",
    "山东",
    "河南",
    "湖北",
    "湖南",
    "广东",
    "海南",
    "四川",
    "贵州",
    "云南",
    "陕西",
    "甘肃",
    "青海",
    "台湾",
    "广西",
    "西藏",
    "宁夏",
    "新疆",
    "香港",
    "澳门",
]
_PROVINCE_SHORT = re.compile(
    rf"^({'|'.join(_PROVINCE_NAMES)})(?:省|壮族自治区|回族自治区|维吾尔自治区|自治区|特别行政区)?"
)
_CITY = re.compile(rf"^([{_HAN}]{{1,7}}?)(市|自治州|地区|盟)")
_DISTRICT = re.compile(rf"^([{_HAN}]{{1,8}}?(?:新区|区|县|旗|市))")
_POSTCODE = re.compile(r"[(（]?\s*(\d{6})\s*[)）]?\s*$")
_MASK_RUN_ANY = re.compile(r"[*＊•]+")
# Common abbreviations and variant characters: street lines that differ only by these compare
# equal (Latin words lower-cased first).
_STREET_WORDS = {
    "street": "st",
    "road": "rd",
    "avenue": "ave",
    "drive": "dr",
    "lane": "ln",
    "boulevard": "blvd",
    "apartment": "apt",
    "building": "bldg",
    "floor": "fl",
    "suite": "ste",
    "number": "no",
}
_STREET_CHARS = str.maketrans({"號": "号", "樓": "楼", "幢": "栋"})


_SHORT_OF = dict(_STREET_WORDS)  # written out -> abbreviation
_SHORT_FORMS = set(_STREET_WORDS.values())


def address_pattern(part: str) -> str:
    """A regex (use with ``re.IGNORECASE``) for every raw spelling of a normalised address
    part (``normalize_address`` output) as a delivered file may hold it: any character also
    full-width (１２, Ｍａｉｎ) or traditional (號), any spaces between characters, every Latin
    word the normaliser folds in any of its forms (``st``: St, St., ST., Street; also inside a
    token: ``no.5`` is No.5, No 5, Number 5), a masked run (``*``) of any length, a number not
    inside a longer number. The inverse of the normaliser, kept beside its tables."""
    long_of: dict[str, list[str]] = {}
    for full, short in _STREET_WORDS.items():
        long_of.setdefault(short, []).append(full)
    trad = {short: chr(code) for code, short in _STREET_CHARS.items()}  # 号 -> 號

    def char(c: str) -> str:
        forms = {c}
        if 0x21 <= ord(c) <= 0x7E:
            forms.add(chr(ord(c) + 0xFEE0))  # its full-width form
        if c in trad:
            forms.add(trad[c])
        alts = sorted(re.escape(f) for f in forms)
        return alts[0] if len(alts) == 1 else "(?:" + "|".join(alts) + ")"

    def chars(text: str) -> str:
        return r"\s*".join(char(c) for c in text if not c.isspace())

    pieces: list[str] = []
    dot = r"[.．]?"
    letter = "[A-Za-zＡ-Ｚａ-ｚ]"  # a Latin word is whole: st is not the start of Stop
    for token in re.findall(r"[a-z]+|\s+|\*+|.", part.lower()):
        if token.isspace():
            pieces.append(r"[\s,，.．]*")
        elif token[0] == "*":
            pieces.append(r"[*＊•]+")
        elif token == ".":
            pieces.append(dot)  # the dot after an abbreviation, which a spelling may leave out
        elif token.isascii() and token.isalpha():
            short = _SHORT_OF.get(token, token)
            if short in _SHORT_FORMS:
                forms = sorted({short, *long_of[short]}, key=len, reverse=True)
                alts = "|".join(chars(f) for f in forms)
                pieces.append(f"(?:{alts})(?!{letter}){dot}")
            else:
                pieces.append(f"{chars(token)}(?!{letter})")
        else:
            pieces.append(char(token))
    body = ""
    for piece in pieces:  # any spaces between characters; a separator piece is its own
        sep = piece.startswith(r"[\s,") or not body or body.endswith(r",，.．]*")
        body += piece if sep else r"\s*" + piece
    digit = r"[0-9０-９]"
    head = f"(?<!{digit})" if part[:1].isdigit() else ""
    head += f"(?<!{letter})" if part[:1].isascii() and part[:1].isalpha() else ""
    tail = f"(?!{digit})" if part[-1:].isdigit() else ""
    return head + body + tail


def _region_key(text: str | None, suffix: re.Pattern) -> str | None:
    """A province or city as its name without the administrative suffix (浙江省 → 浙江)."""
    text = clean_text(text)
    if text is None or is_junk(text):
        return None
    text = text.replace(" ", "")
    m = _MUNICIPALITY.match(text)
    if m and len(m.group(0)) == len(text):
        return m.group(1)
    for pattern in (suffix, _PROVINCE_SHORT) if suffix is _PROVINCE else (suffix,):
        m = pattern.match(text)
        if m and len(m.group(0)) == len(text):
            return m.group(1)
    return text.lower()


def _street_word(word: str) -> str:
    """A Latin word of a street line: written out or abbreviated with a dot, the abbreviation
    (Street, St. -> st); any other word as written, without a trailing comma."""
    base = word.strip(".,")
    if base in _STREET_WORDS:
        return _STREET_WORDS[base]
    return base if base in _SHORT_FORMS else word.strip(",")


def _street_key(text: str) -> str | None:
    text = text.lower().translate(_STREET_CHARS)
    words = [_street_word(w) for w in text.split()]
    # CJK street lines are written without spaces; Latin ones keep single spaces
    out = " ".join(w for w in words if w)
    out = re.sub(rf"(?<=[{_HAN}])\s+|\s+(?=[{_HAN}])", "", out)
    out = _MASK_RUN_ANY.sub("*", out).strip(" ,-")
    return None if not out or set(out) <= {"*", " "} or is_junk(out) else out


@lru_cache(maxsize=262_144)
def normalize_address(
    province: object = None,
    city: object = None,
    district: object = None,
    street: object = None,
    postcode: object = None,
) -> dict[str, str | None]:
    """A delivery address as comparable parts (the ``ADDRESS_PARTS``): width folded, the
    postcode taken off the end, the province and city without their administrative suffix
    (浙江省 → 浙江, 杭州市 → 杭州, a municipality its own city), the district as written
    (西湖区), the street line without spaces between Chinese characters, Latin words
    lower-cased with common abbreviations (Street → st), a masked run (****) kept as one
    ``*``; a part that is only a mask or a placeholder is null.

    Parts the export leaves in one text are parsed off its start in order (province, city,
    district), so ``浙江省 杭州市 西湖区文三路1号(310000)`` given as ``street`` alone and the
    same address given in columns give the same parts.

    >>> normalize_address(street="浙江省 杭州市 西湖区文三路1号(310000)")["district"]
    '西湖区'
    """
    given = (province, city, district, street, postcode)
    parts = {k: clean_text(v) for k, v in zip(ADDRESS_PARTS, given, strict=True)}
    parts = {k: None if v is None or is_junk(v) else v for k, v in parts.items()}
    rest = parts["street"] or ""
    m = _POSTCODE.search(rest)
    if m:
        parts["postcode"] = parts["postcode"] or m.group(1)
        rest = rest[: m.start()]
    rest = rest.strip()

    def take(pattern: re.Pattern) -> str | None:
        nonlocal rest
        hit = pattern.match(rest)
        if not hit:
            return None
        rest = rest[hit.end() :].lstrip()
        return hit.group(0)

    # whatever the export repeats at the start of the street line is taken off it
    prov = take(_MUNICIPALITY) or take(_PROVINCE_SHORT) or take(_PROVINCE)
    parts["province"] = parts["province"] or prov
    muni = _MUNICIPALITY.match(parts["province"] or "")
    city_text = parts["city"] or (muni.group(1) if muni else None)
    if city_text and rest.startswith(city_text.replace(" ", "")):
        rest = rest[len(city_text.replace(" ", "")) :].lstrip("市 ")
        parts["city"] = parts["city"] or city_text
    elif parts["city"] is None:
        parts["city"] = take(_CITY) or city_text
    if parts["district"] is None:
        parts["district"] = take(_DISTRICT)
    out = {
        "province": _region_key(parts["province"], _PROVINCE),
        "city": _region_key(parts["city"], _CITY),
        "district": _street_key(parts["district"]) if parts["district"] else None,
        "street": _street_key(rest) if rest else None,
        "postcode": re.sub(r"\s", "", parts["postcode"]).upper() if parts["postcode"] else None,
    }
    if out["district"] == "*":
        out["district"] = None
    return out


def address_frame(frame: pl.DataFrame, columns: dict[str, str]) -> pl.DataFrame:
    """``frame`` with its address columns (part -> column name, parts of ``ADDRESS_PARTS``)
    replaced by their normalised parts (``normalize_address``); each distinct address is
    parsed once."""
    cols = {p: c for p, c in columns.items() if c in frame.columns}
    if not cols:
        return frame
    raw = frame.select(**{p: pl.col(c).cast(pl.String) for p, c in cols.items()})
    uniq = raw.unique()
    at = [list(cols).index(p) if p in cols else None for p in ADDRESS_PARTS]
    parsed = pl.DataFrame(
        [
            normalize_address(*(None if i is None else row[i] for i in at))
            for row in uniq.iter_rows()
        ],
        schema={p: pl.String for p in ADDRESS_PARTS},
        orient="row",
    )
    lookup = pl.concat(
        [uniq.rename({p: f"__raw_{p}" for p in cols}), parsed.select(list(cols))], how="horizontal"
    )
    out = raw.rename({p: f"__raw_{p}" for p in cols}).join(
        lookup, on=[f"__raw_{p}" for p in cols], how="left", nulls_equal=True, maintain_order="left"
    )
    return frame.with_columns(out[p].alias(c) for p, c in cols.items())
