"""Erasure end to end: a demo customer is erased from a private copy of the materialised demo
(the session's ``built_demo`` copied into a temporary folder, so the shared one stays
read-only), then every file under ``data/`` is scanned for any of their identifiers (phone in
every spelling and its SHA-256 forms, e-mail, member no., openids, unionid, device ids,
customer id, their name where no one else has it). Then an old landing file is delivered
again and the person does not come back."""

from __future__ import annotations

import hashlib
import json
import re
import shutil

import duckdb
import polars as pl
import pytest
from typer.testing import CliRunner

from ingest import tombstones
from ingest.config import DataPaths, connect
from ingest.engine import ingest_channel
from ingest.spec import load_specs
from models.privacy.erase import read_requests_file
from models.privacy.subject import SubjectError, parse_identifier
from orchestration.cli import app

# a long module: handed out with the Spark build, which waits for the e2e build too
# (tests/conftest.py)
pytestmark = pytest.mark.slow


def _sha(s: str) -> str:
    return hashlib.sha256(s.encode()).hexdigest()


@pytest.fixture(scope="module")
def private_copy(built_demo, tmp_path_factory) -> DataPaths:
    src, _ = built_demo
    root = tmp_path_factory.mktemp("erase") / "data"
    shutil.copytree(src.root, root)
    return DataPaths(root)


def _banner_consent_ids(paths: DataPaths) -> set[str]:
    """The ConsentID values of the delivered cookie-banner logs."""
    files = sorted((paths.landing / "web" / "consent_log").glob("*.csv"))
    return set(pl.concat([pl.read_csv(f, columns=["ConsentID"]) for f in files])["ConsentID"])


def _person(paths: DataPaths) -> dict:
    """A customer with a phone, an e-mail, a member no. and a WeChat id, who is in a segment
    export: the hardest case (every layer holds them)."""
    con = connect(paths.warehouse, read_only=True)
    try:
        rows = con.execute(
            """
            select customer_id,
                   list(distinct identifier_type || ':' || identifier_value) as ids
            from identity.customer_identifiers
            where not coalesce(is_partial, false)
            group by 1
            having count(distinct case when identifier_type in
                   ('phone', 'email', 'member_no', 'wechat_unionid') then identifier_type end) = 4
            order by 1
            """
        ).fetchall()
        names = dict(con.execute("select customer_id, name from marts.dim_customers").fetchall())
        name_counts = con.execute(
            "select name, count(*) from marts.dim_customers where name is not null group by 1"
        ).fetchall()
    finally:
        con.close()
    exported = "\n".join(
        p.read_text(encoding="utf-8") for p in (paths.exports / "segments").rglob("snapshot.csv")
    )
    shared = {n for n, c in name_counts if c > 1}
    streets = _streets(paths, con_path=paths.warehouse)
    for cid, ids in rows:
        if cid in exported and streets.get(cid):
            name = names.get(cid)
            return {
                "customer_id": cid,
                "ids": sorted(ids),
                "name": name if name and name not in shared and "*" not in name else None,
                "streets": streets[cid],
            }
    pytest.fail(
        "no customer with phone, e-mail, member no., unionid and a delivery street of their own "
        "in a segment export"
    )


def _streets(paths: DataPaths, con_path) -> dict[str, list[str]]:
    """Per customer, the unmasked street lines of their lake orders that no other customer's
    order carries (taken from the lake Parquet; OneID ties the order records to customers)."""
    con = connect(con_path, read_only=True)
    try:
        tied = con.execute(
            "select customer_id, channel, record_id from identity.record_customers "
            "where entity = 'orders'"
        ).pl()
    finally:
        con.close()
    orders = pl.read_parquet(paths.lake_raw / "orders" / "*.parquet").select(
        "channel", pl.col("order_id").cast(pl.String).alias("record_id"), "ship_street"
    )
    lines = (
        orders.join(tied.cast(pl.String), on=["channel", "record_id"], how="left")
        .filter(pl.col("ship_street").is_not_null())
        .select("customer_id", "ship_street")
        .unique()
    )
    owners = lines.group_by("ship_street").agg(
        pl.col("customer_id").n_unique().alias("n"), pl.col("customer_id").null_count().alias("nn")
    )
    own = owners.filter((pl.col("n") == 1) & (pl.col("nn") == 0))["ship_street"]
    mine = lines.filter(
        pl.col("ship_street").is_in(own.implode())
        & ~pl.col("ship_street").str.contains(r"\*")
        & (pl.col("ship_street").str.len_chars() >= 6)
    )
    return {cid: sorted(g["ship_street"].to_list()) for (cid,), g in mine.group_by("customer_id")}


def _needles(person: dict) -> tuple[list[str], re.Pattern]:
    """Every string that would betray the person, and a pattern for any phone spelling."""
    plain = [person["customer_id"]]
    phones = []
    for item in person["ids"]:
        typ, value = item.split(":", 1)
        plain.append(value)
        if typ == "phone":
            digits = value.lstrip("+")
            national = digits[2:] if digits.startswith("86") else digits
            phones.append(national)
            plain += [digits, _sha(value), _sha(digits), _sha(national)]
        if typ == "email":
            plain.append(_sha(value))
    if person["name"]:
        plain.append(person["name"])
    plain += person["streets"]
    # the digits in order, any separators between, no digit either side. The first digit
    # leads and the lookbehind follows it ((?<!\d\d) after a digit: no digit before it), the
    # same matches as (?<!\d) in front, but the regex engine skips to that digit instead of
    # trying the pattern at every position (the scans spent most of their time here)
    sep = r"[\s\-().]*"
    pattern = re.compile("|".join(rf"{p[0]}(?<!\d\d){sep.join(p)[1:]}(?!\d)" for p in phones))
    return [p for p in plain if len(p) >= 2], pattern


# A file's hits are a function of its bytes (a DuckDB file's and its WAL's) and the needles:
# each scan reads every file's bytes again but extracts the text of, and searches, only the
# files it has not seen with these needles (the scans before and after an erasure differ in
# the files the erasure rewrote).
_SEEN: dict[tuple, list[str]] = {}


def _scan(paths: DataPaths, person: dict, under: str = "") -> list[str]:
    """Where under data/ (truth/ aside: the generator's answer key, which a deployment does
    not have), or under its folder ``under``, any needle is still found."""
    plain, phone = _needles(person)
    lowered = [p.lower() for p in plain]
    found = []
    for f in sorted(p for p in (paths.root / under).rglob("*") if p.is_file()):
        rel = f.relative_to(paths.root)
        if rel.parts[0] == "truth":
            continue
        data = f.read_bytes()
        digest = hashlib.blake2b(data)
        wal = f.with_name(f.name + ".wal")
        if f.suffix == ".duckdb" and wal.exists():
            digest.update(wal.read_bytes())
        key = (f.suffix, digest.digest(), tuple(plain), phone.pattern)
        if key not in _SEEN:
            _SEEN[key] = _hits(f, data, plain, lowered, phone)
        if _SEEN[key]:
            found.append(f"{rel}: {_SEEN[key]}")
    return found


def _hits(f, data: bytes, plain: list[str], lowered: list[str], phone: re.Pattern) -> list[str]:
    """The needles found in file ``f`` (its content ``data``), and "phone" for a phone match."""
    if f.suffix == ".parquet":
        # each text column's values joined by newlines, the columns in order, joined so
        strings = pl.read_parquet(data).select(pl.col(pl.String).drop_nulls().str.join("\n"))
        text = "\n".join(strings.row(0)) if strings.width else ""
    elif f.suffix == ".duckdb":
        text = _duckdb_text(f)
        text += data.decode("utf-8", "ignore")
    else:
        text = data.decode("utf-8", "ignore") + data.decode("gb18030", "ignore")
    low = text.lower()
    hits = [p for p, lp in zip(plain, lowered, strict=True) if lp in low]
    if phone.pattern and phone.search(text):
        hits.append("phone")
    return hits


def _duckdb_text(path) -> str:
    con = duckdb.connect(str(path), read_only=True)
    try:
        cols = con.execute(
            "select table_schema, table_name, column_name from information_schema.columns "
            "where data_type = 'VARCHAR'"
        ).fetchall()
        parts = []
        for schema, table, col in cols:
            try:
                vals = con.execute(
                    f'select distinct "{col}" from "{schema}"."{table}" where "{col}" is not null'
                ).fetchall()
            except duckdb.Error:  # a view over lake files of the original folder
                continue
            parts += [v[0] for v in vals]
        return "\n".join(parts)
    finally:
        con.close()


def test_a_bad_request_names_the_file_and_line(tmp_path):
    bad = tmp_path / "requests.txt"
    bad.write_text("phone:+8613800138000\n# comment\nphon:123\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"requests.txt:3: .*unknown identifier type 'phon'"):
        read_requests_file(bad)
    with pytest.raises(SubjectError, match="not a valid, complete phone"):
        parse_identifier("phone:138****0000")
    assert parse_identifier("phone:138-0013-8000") == ("phone", "+8613800138000")


def test_erasure_leaves_no_trace_and_an_old_file_does_not_bring_them_back(
    private_copy, tmp_path, monkeypatch
):
    paths = private_copy
    person = _person(paths)
    phone = next(i for i in person["ids"] if i.startswith("phone:"))
    before = "\n".join(_scan(paths, person))
    assert before, "the person should be found before the erasure"
    # their street lines too (lake, staging, landing): the scan can see an address
    assert all(repr(s) in before for s in person["streets"]), (person["streets"], before)
    # an old delivery of a CRM file that names them, kept aside before the erasure
    old = {
        f.relative_to(paths.landing).as_posix(): f.read_bytes()
        for f in (paths.landing / "crm").rglob("*.csv")
        if phone.split(":", 1)[1][3:] in f.read_text(encoding="utf-8")
    }
    assert old

    monkeypatch.setenv("ZHONGTAI_DATA_DIR", str(paths.root))
    # access request first: everything held about them, as JSON (erased with them below)
    result = CliRunner().invoke(app, ["privacy", "export", "--identifier", phone])
    assert result.exit_code == 0, result.output
    (access,) = (paths.exports / "privacy" / "access").glob("*.json")
    doc = json.loads(access.read_text(encoding="utf-8"))
    assert doc["customer_ids"] == [person["customer_id"]]
    assert {f"{i['type']}:{i['value']}" for i in doc["identifiers"]} >= set(person["ids"])
    assert len(doc["warehouse"]["marts.customer_360"]) == 1 and doc["lake"]
    assert set(person["streets"]) <= {a["street"] for a in doc["delivery_addresses"]}

    requests = tmp_path / "requests.txt"
    requests.write_text(f"# DSR 1\n{phone}\n", encoding="utf-8")
    result = CliRunner().invoke(app, ["privacy", "erase", "--requests", str(requests)])
    assert result.exit_code == 0, result.output

    assert _scan(paths, person) == []
    log = pl.read_parquet(paths.root / "privacy" / "requests.parquet")
    assert log["kind"].to_list() == ["access", "access", "erase", "erase"]
    assert log["status"].to_list() == ["requested", "completed"] * 2
    counts = json.loads(log["counts"][3])
    assert counts["lake_rows"] > 0 and counts["warehouse_rows"] > 0 and counts["export_rows"] > 0
    con = connect(paths.warehouse, read_only=True)
    try:
        assert con.execute("select count(*) from privacy.requests").fetchone()[0] == 4
        left = con.execute(
            "select count(*) from marts.customer_360 where customer_id = ?",
            [person["customer_id"]],
        ).fetchone()[0]
    finally:
        con.close()
    assert left == 0

    # the old files delivered again: loaded, with the person dropped and counted
    for rel, data in old.items():
        (paths.landing / rel).write_bytes(data)
    report = ingest_channel(load_specs()["crm"], paths)
    loaded = [f for f in report.files if f.status == "loaded"]
    assert {f.file for f in loaded} == set(old)
    assert sum(f.tombstoned for f in loaded) > 0
    manifest = json.loads((paths.manifest_dir / "crm.json").read_text(encoding="utf-8"))
    assert sum(manifest["files"][rel].get("tombstoned", 0) for rel in old) > 0
    values = {i.split(":", 1)[1] for i in person["ids"]}
    lake_ids = pl.read_parquet(paths.lake_raw / "identifiers" / "*.parquet")
    assert not set(lake_ids["identifier_value"].to_list()) & values
    assert _scan(paths, person, "lake") == []
    # the tombstone itself is a keyed hash: the value is not in it
    stones = pl.read_parquet(tombstones.tombstone_path(paths))
    assert stones.height >= len(values)
    assert not set(stones["hash"].to_list()) & {_sha(v) for v in values}


def test_erasure_cuts_the_cookie_banner_consent_id(private_copy, monkeypatch):
    """A web customer who answered the cookie banner, erased by e-mail or phone: the banner's
    ConsentID (the cookie's key, an identifier row of their browser) and their visitor ids
    leave every file under data/, the landing consent log included."""
    paths = private_copy
    banner = _banner_consent_ids(paths)
    con = connect(paths.warehouse, read_only=True)
    try:
        rows = con.execute(
            """
            select customer_id,
                   list(distinct identifier_type || ':' || identifier_value order by 1) as ids
            from identity.customer_identifiers
            where not coalesce(is_partial, false)
            group by 1
            having bool_or(list_contains(?, identifier_value))
               and bool_or(identifier_type in ('email', 'phone'))
            order by 1
            """,
            [sorted(banner)],
        ).fetchall()
    finally:
        con.close()
    assert rows, "no customer with an e-mail or phone who answered the cookie banner"
    cid, ids = rows[0]
    person = {"customer_id": cid, "ids": ids, "name": None, "streets": []}
    cookies = {i.split(":", 1)[1] for i in ids} & banner
    assert cookies and _scan(paths, person), "the person should be found before the erasure"
    request = next(i for i in ids if i.startswith(("email:", "phone:")))
    monkeypatch.setenv("ZHONGTAI_DATA_DIR", str(paths.root))
    result = CliRunner().invoke(app, ["privacy", "erase", "--identifier", request])
    assert result.exit_code == 0, result.output
    assert _scan(paths, person) == []
    assert not _banner_consent_ids(paths) & cookies
