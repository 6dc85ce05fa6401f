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
    compact = re.sub(r"[\s\-().]", "", text)
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
