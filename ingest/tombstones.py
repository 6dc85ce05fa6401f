"""Tombstones of erased persons: keyed hashes of their identifiers, so that a landing file
delivered again after an erasure does not bring the person back.

A tombstone is ``HMAC-SHA256(key, normalised value)`` (hex) of every identifier the person
had (phone in E.164, e-mail lower case, member no., openid, unionid, device and buyer ids):
the value itself is never stored, and without the key a tombstone cannot be tested against a
guessed phone number. The key comes from ``ZHONGTAI_TOMBSTONE_KEY`` (hex; set it from your
secrets manager in production, the same key for every run) or, when that is not set, from
``<data>/privacy/tombstone.key``, created once with mode 0600. Losing the key makes every
tombstone useless: keep it with the backups of the warehouse, never in git. The same key keys
the record ids a channel spec builds from personal data (``digest: true``, see
:func:`record_digest`): a new key gives those records new ids on the next full rebuild.

The ingest engine calls :func:`apply` once per batch: identifier rows whose hash is a
tombstone are dropped, the records they were on are pseudonymised (names, birthdays, IPs,
user agents and free text nulled; identifier values in other columns replaced by a random
token) and quarantined raw records have the tombstoned values cut out. The number of
records treated is returned per file, and the engine writes it to the manifest
(``tombstoned``).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import os
import re
import secrets
from pathlib import Path

import polars as pl

from ingest.canonical import ENTITIES, NAME_COLUMNS
from ingest.config import DataPaths
from ingest.identifiers import normalize_email, normalize_phone

KEY_ENV = "ZHONGTAI_TOMBSTONE_KEY"
TOMBSTONE_COLUMNS = {"hash": pl.String, "request_id": pl.String, "erased_at": pl.Datetime("us")}
# Columns that describe a person beyond the identifiers: nulled on an erased person's records.
PII_COLUMNS: dict[str, tuple[str, ...]] = {
    **NAME_COLUMNS,
    # a delivery address below the city (province and city stay: regional sales totals)
    "orders": (*NAME_COLUMNS["orders"], "ship_district", "ship_street", "ship_postcode"),
    "members": (*NAME_COLUMNS["members"], "birthday", "gender"),
    "order_contacts": (*NAME_COLUMNS["order_contacts"], "city"),
    "events": ("ip", "user_agent", "text", "search_query"),
    "social": ("text",),
}
ERASED_MARK = "[erased]"
# Candidate identifiers in free text: phone-like runs, e-mails, id-like words.
_CANDIDATE = re.compile(
    r"\+?\d[\d \-()]{5,18}\d|[\w.+\-]+@[\w\-]+(?:\.[\w\-]+)+|[A-Za-z0-9_\-]{6,}", re.UNICODE
)


def privacy_dir(paths: DataPaths) -> Path:
    return paths.root / "privacy"


def tombstone_path(paths: DataPaths) -> Path:
    return privacy_dir(paths) / "tombstones.parquet"


def key(paths: DataPaths, create: bool = False) -> bytes | None:
    """The tombstone key: ``ZHONGTAI_TOMBSTONE_KEY`` (hex), else the key file (created with
    mode 0600 when ``create``); None when neither exists."""
    env = os.environ.get(KEY_ENV)
    if env:
        try:
            return bytes.fromhex(env.strip())
        except ValueError as exc:
            raise ValueError(f"{KEY_ENV} must be hex: {exc}") from exc
    path = privacy_dir(paths) / "tombstone.key"
    if path.exists():
        return bytes.fromhex(path.read_text(encoding="ascii").strip())
    if not create:
        return None
    path.parent.mkdir(parents=True, exist_ok=True)
    # written whole under a private name, then linked into place: two processes creating it
    # at once (channels ingested in parallel) both end up reading the one that won
    tmp = path.with_name(f"{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as fh:
        fh.write(secrets.token_hex(32) + "\n")
        fh.flush()
        os.fsync(fh.fileno())
    try:
        os.link(tmp, path)
    except FileExistsError:
        pass
    finally:
        tmp.unlink()
    return bytes.fromhex(path.read_text(encoding="ascii").strip())


def digest(secret: bytes, value: str) -> str:
    return hmac.new(secret, value.encode("utf-8"), hashlib.sha256).hexdigest()


RECORD_DIGEST_PREFIX = "record-id\x1f"


def record_digest(secret: bytes, text: str) -> str:
    """A record id built from personal data (``digest: true`` on a field of a channel spec:
    the WeChat push's openid, time and template), as HMAC-SHA256 under the same key as the
    tombstones, domain-separated so that it never equals an identifier's tombstone. Stable
    while the key is (the same event delivered again gets the same id); without the key it
    cannot be tested against a guessed openid; it holds no character of the identifier."""
    return digest(secret, RECORD_DIGEST_PREFIX + text)


def load(paths: DataPaths) -> set[str]:
    path = tombstone_path(paths)
    return set(pl.read_parquet(path)["hash"].to_list()) if path.exists() else set()


def add(paths: DataPaths, values: list[str], request_id: str) -> int:
    """Append the tombstones of ``values`` (normalised identifier values); returns how many
    were new. The file is rewritten under a temporary name and renamed."""
    secret = key(paths, create=True)
    assert secret is not None
    old = pl.read_parquet(tombstone_path(paths)) if tombstone_path(paths).exists() else None
    known = set() if old is None else set(old["hash"].to_list())
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    new = sorted({digest(secret, v) for v in values} - known)
    frame = pl.DataFrame(
        {"hash": new, "request_id": [request_id] * len(new), "erased_at": [now] * len(new)},
        schema=TOMBSTONE_COLUMNS,
    )
    if old is not None:
        frame = pl.concat([old, frame])
    write_parquet(frame, tombstone_path(paths))
    return len(new)


def write_parquet(frame: pl.DataFrame, path: Path) -> None:
    """Written to a temporary name and renamed: readers never see half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".erase-tmp")
    frame.write_parquet(tmp, compression="zstd")
    tmp.replace(path)


def candidate_forms(token: str) -> set[str]:
    """The normalised values a token of free text may stand for."""
    forms = {token}
    phone = normalize_phone(token)
    if phone is not None and not phone.is_partial:
        forms.add(phone.value)
    email = normalize_email(token)
    if email is not None:
        forms.add(email.value)
    if token.lower() != token:
        forms.add(token.lower())
    return forms


def scrub_text(text: str, is_erased) -> tuple[str, int]:
    """Cut every candidate identifier of ``text`` for which ``is_erased(form)`` holds for one
    of its normalised forms; returns the text and the number of cuts."""
    cuts = 0

    def repl(m: re.Match) -> str:
        nonlocal cuts
        if any(is_erased(f) for f in candidate_forms(m.group(0))):
            cuts += 1
            return ERASED_MARK
        return m.group(0)

    return _CANDIDATE.sub(repl, text), cuts


def pseudonym() -> str:
    """A random token standing for an erased value (no way back to it)."""
    return "erased-" + secrets.token_hex(6)


def record_ids(frame: pl.DataFrame, entity: str) -> pl.Expr:
    keys = ENTITIES[entity]["key"]
    return pl.concat_str([pl.col(k).cast(pl.String) for k in keys], separator="/")


def pseudonymise_rows(
    frame: pl.DataFrame, entity: str, tied: pl.Expr, values_erased
) -> pl.DataFrame:
    """On rows where ``tied`` holds: PII columns nulled, string values for which
    ``values_erased(value)`` holds replaced by a random pseudonym (one per value)."""
    out = frame.with_columns(
        pl.when(tied).then(None).otherwise(pl.col(c)).alias(c)
        for c in PII_COLUMNS.get(entity, ())
        if c in frame.columns
    )
    for col, dtype in frame.schema.items():
        if dtype != pl.String or col in ("channel", "source_file", "file_hash"):
            continue
        values = frame.filter(tied)[col].drop_nulls().unique().to_list()
        mapping = {v: pseudonym() for v in values if values_erased(v)}
        if mapping:
            out = out.with_columns(
                pl.when(tied & pl.col(col).is_in(list(mapping)))
                .then(pl.col(col).replace(mapping))
                .otherwise(pl.col(col))
                .alias(col)
            )
    return out


def apply(
    parts: dict[str, dict], q_parts: dict, paths: DataPaths
) -> tuple[dict[str, dict], dict, dict[int, int]]:
    """Drop or pseudonymise tombstoned persons in one batch's per-file frames (``parts``:
    entity -> {(file index,): frame}, ``q_parts``: the quarantine frames). Returns the frames
    and, per file index, the number of records treated. No tombstones: nothing is read."""
    stones = load(paths)
    if not stones:
        return parts, q_parts, {}
    secret = key(paths)
    if secret is None:
        raise RuntimeError(
            f"{tombstone_path(paths)} exists but no tombstone key: set {KEY_ENV} or restore "
            f"{privacy_dir(paths) / 'tombstone.key'}"
        )
    cache: dict[str, bool] = {}

    def erased(value: str) -> bool:
        hit = cache.get(value)
        if hit is None:
            hit = cache[value] = digest(secret, value) in stones
        return hit

    counts: dict[int, int] = {}
    idents = parts.get("identifiers", {})
    for file_key, frame in list(idents.items()):
        hits = frame.filter(
            pl.col("identifier_value").map_elements(erased, return_dtype=pl.Boolean)
            & ~pl.col("is_partial").fill_null(False)
        )
        if hits.is_empty():
            continue
        tied = hits.select("entity", "record_id").unique()
        idents[file_key] = frame.join(tied, on=["entity", "record_id"], how="anti")
        counts[file_key[0]] = counts.get(file_key[0], 0) + tied.height
        for entity, rids in tied.group_by("entity"):
            by_file = parts.get(entity[0], {})
            if file_key not in by_file:
                continue
            rows = by_file[file_key]
            mask = record_ids(rows, entity[0]).is_in(rids["record_id"].implode())
            by_file[file_key] = pseudonymise_rows(rows, entity[0], mask, erased)
    for file_key, frame in list(q_parts.items()):
        texts = frame["raw_record"].to_list()
        out, cut = [], 0
        for text in texts:
            if text is None:
                out.append(None)
                continue
            new, n = scrub_text(text, erased)
            out.append(new)
            cut += n > 0
        if cut:
            q_parts[file_key] = frame.with_columns(pl.Series("raw_record", out, pl.String))
            counts[file_key[0]] = counts.get(file_key[0], 0) + cut
    return parts, q_parts, counts
