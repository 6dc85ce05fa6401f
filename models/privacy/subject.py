"""A data subject: ``TYPE:VALUE`` resolved through OneID to every identifier the person has,
their customer ids, the lake records tied to them, and the patterns that find any of it in a
file (every spelling of a phone, the SHA-256 forms the ad-platform exports carry)."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field

import phonenumbers
import polars as pl

from ingest.config import DataPaths
from ingest.identifiers import IDENTIFIER_TYPES, address_pattern, normalize_id
from models.segments.store import has_table

# Characters that continue an id or an e-mail: a token is found only as a whole word.
_WORD = r"[0-9A-Za-z_\-]"


class SubjectError(ValueError):
    """A request names no valid identifier."""


def parse_identifier(text: str) -> tuple[str, str]:
    """``phone:+8613800138000`` -> (``phone``, ``+8613800138000``) normalised by
    ``ingest.identifiers``; a clear error for an unknown type or an invalid value."""
    id_type, sep, raw = text.partition(":")
    id_type = id_type.strip()
    if not sep or not raw.strip():
        raise SubjectError(f"{text!r}: expected TYPE:VALUE, e.g. phone:+8613800138000")
    if id_type not in IDENTIFIER_TYPES:
        raise SubjectError(
            f"{text!r}: unknown identifier type {id_type!r}; known: {', '.join(IDENTIFIER_TYPES)}"
        )
    ident = normalize_id(id_type, raw)
    if ident is None or ident.is_partial:
        raise SubjectError(f"{text!r}: {raw!r} is not a valid, complete {id_type}")
    return id_type, ident.value


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _phone_forms(e164: str) -> tuple[list[str], str]:
    """Exact forms of a phone (E.164, without +, national) and a pattern for any spelling."""
    parsed = phonenumbers.parse(e164, None)
    national = str(parsed.national_number)
    cc = str(parsed.country_code)
    sep = r"[\s\-().]*"
    body = sep.join(national)
    pattern = rf"(?<!\d)(?:(?:\+|00)?{sep}{cc}{sep})?{body}(?!\d)"
    return [e164, e164.lstrip("+"), national, cc + national], pattern


@dataclass
class Subject:
    """Everything that identifies one person."""

    identifiers: list[tuple[str, str]]  # (type, normalised value), complete values only
    customer_ids: list[str]
    records: pl.DataFrame = field(  # channel, entity, record_id of every tied lake record
        default_factory=lambda: pl.DataFrame(
            schema={"channel": pl.String, "entity": pl.String, "record_id": pl.String}
        )
    )
    names: set[str] = field(default_factory=set)
    # street lines, districts and postcodes of their delivery addresses (normalised)
    addresses: set[str] = field(default_factory=set)

    @property
    def values(self) -> list[str]:
        return sorted({v for _, v in self.identifiers})

    def exact_tokens(self) -> set[str]:
        """Values a column may hold whole: identifiers, phone spellings without separators,
        the SHA-256 forms of phones and e-mails (ad exports), customer ids."""
        out = set(self.values) | set(self.customer_ids)
        for typ, value in self.identifiers:
            if typ == "phone":
                forms, _ = _phone_forms(value)
                out |= set(forms) | {sha256(f) for f in forms}
            elif typ == "email":
                out |= {sha256(value), value.upper()}
        return {t for t in out if t}

    def text_pattern(self, names: bool = False) -> re.Pattern:
        """Any token of the subject in free text (Python regex, whole words)."""
        parts = []
        phone_forms: set[str] = set()
        for typ, value in self.identifiers:
            if typ == "phone":
                forms, pattern = _phone_forms(value)
                parts.append(pattern)
                phone_forms |= set(forms)
        plain = sorted(self.exact_tokens() - phone_forms, key=len, reverse=True)
        parts += [rf"(?<!{_WORD}){re.escape(t)}(?!{_WORD})" for t in plain]
        if names:
            parts += [re.escape(n) for n in sorted(self.names, key=len, reverse=True)]
            parts += [address_pattern(a) for a in sorted(self.addresses, key=len, reverse=True)]
        return re.compile("|".join(parts), re.IGNORECASE)

    def re2_pattern(self) -> str:
        """A coarse match (RE2 / Rust regex: no look-arounds) for DuckDB and polars filters:
        every exact token as a whole word, case-insensitive."""
        toks = sorted(self.exact_tokens(), key=len, reverse=True)
        alt = "|".join(re.escape(t) for t in toks)
        return rf"(?i)(?:^|[^0-9A-Za-z_\-])(?:{alt})(?:$|[^0-9A-Za-z_\-])"


def resolve(con, paths: DataPaths, identifier: str) -> Subject:
    """``TYPE:VALUE`` -> the subject: the customer(s) OneID gives the identifier, every
    complete identifier of those customers, and every lake record carrying one of them or
    assigned to them by identity resolution. ``con``: the warehouse (None: lake only)."""
    id_type, value = parse_identifier(identifier)
    idents = {(id_type, value)}
    customers: list[str] = []
    if con is not None and has_table(con, "identity", "customer_identifiers"):
        customers = [
            r[0]
            for r in con.execute(
                "select distinct customer_id from identity.customer_identifiers "
                "where identifier_type = ? and identifier_value = ? and customer_id is not null",
                [id_type, value],
            ).fetchall()
        ]
        if customers:
            idents |= set(
                con.execute(
                    "select distinct identifier_type, identifier_value "
                    "from identity.customer_identifiers where list_contains(?, customer_id) "
                    "and not coalesce(is_partial, false)",
                    [customers],
                ).fetchall()
            )
    values = sorted({v for _, v in idents})
    glob = paths.lake_raw / "identifiers" / "*.parquet"
    records = (
        pl.scan_parquet(glob)
        .filter(pl.col("identifier_value").is_in(values) & ~pl.col("is_partial").fill_null(False))
        .select("channel", "entity", "record_id")
        .collect()
        if any(glob.parent.glob("*.parquet"))
        else Subject([], []).records
    )
    if customers and con is not None and has_table(con, "identity", "record_customers"):
        linked = con.execute(
            "select channel, entity, record_id from identity.record_customers "
            "where list_contains(?, customer_id)",
            [customers],
        ).pl()
        records = pl.concat([records, linked.cast(pl.String)])
    return Subject(sorted(idents), sorted(customers), records.unique().sort(records.columns))
