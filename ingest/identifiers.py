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
    return value is None or value.strip().lower() in _JUNK or set(value.strip()) <= {"0"}


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
    and whitespace change nothing) for platform ids and e-mails, and for phones the text
    steps (trim, leading quotes, separators) on ASCII values, so that the number itself goes
    through ``phonenumbers`` once per distinct compact form. Every other row is handed to
    ``normalize_id`` itself."""
    typ, raw = pl.col("identifier_type"), pl.col("raw")
    region = pl.when(pl.col("region").is_null() | (pl.col("region") == "")).then(pl.lit("CN"))
    region = region.otherwise(pl.col("region"))
    f = frame.with_row_index("__i").with_columns(
        raw.str.contains(r"^[!-~]+$").fill_null(False).alias("__plain"),
        raw.str.contains(r"^[ -~]*$").fill_null(False).alias("__ascii"),
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
    # phones of ASCII text: the text steps of ``normalize_phone`` here, the number in Python
    phone = f.filter((typ == "phone") & pl.col("__ascii")).select(
        "__i",
        raw.str.strip_chars(" ")
        .str.strip_chars_start("'`")
        .str.strip_chars(" ")
        .str.replace_all(r"[ \-().]", "")
        .alias("__compact"),
        "__region",
    )
    pairs = phone.select("__compact", "__region").unique()
    pairs = pairs.with_columns(
        _as_columns([_phone_from_compact(c, r) for c, r in pairs.iter_rows()])
    )
    phone = phone.join(pairs, on=["__compact", "__region"], how="left").select(
        "__i", "value", "is_partial"
    )
    done = pl.concat([fast, phone]).get_column("__i")
    rest = f.filter(~pl.col("__i").is_in(done.implode()))
    found = [
        normalize_id(t, v, r) if v is not None else None
        for t, v, r in rest.select("identifier_type", "raw", "__region").iter_rows()
    ]
    rest = rest.select("__i").with_columns(_as_columns(found))
    out = pl.concat([fast, phone, rest])
    return (
        f.drop("__plain", "__ascii", "__region")
        .join(out, on="__i", how="left")
        .sort("__i")
        .drop("__i")
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
    parsed = pl.DataFrame(
        [normalize_address(**row) for row in uniq.iter_rows(named=True)],
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
