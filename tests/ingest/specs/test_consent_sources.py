"""Consent sources outside the CRM on bad input: a WeChat subscribe push log and a cookie
banner's consent log with broken rows. Each broken row is quarantined naming its file, row
and field; the good rows are loaded; nothing is lost (landing rows = lake + quarantine)."""

from __future__ import annotations

import json

import polars as pl
import pytest
from pydantic import ValidationError

from ingest import tombstones
from ingest.engine import ingest_channel
from ingest.reconcile import reconcile
from ingest.spec import FieldSpec, load_specs
from tests.faults.conftest import write

TEMPLATE = "tN4oQ9kV2xR7bW1mJ8cY5hL3aZ6pE0sD_restock"
POPUP = "wechat/mp_subscribe/mp_subscribe_popup_20250301.ndjson"
BANNER = "web/consent_log/consent_log_20250301.csv"


def push(openid: str, t: str | int, status: str, template: str = TEMPLATE, bare=False) -> str:
    """A popup push in JSON mode; ``bare``: its List of one template written as the bare
    object (as WeChat sends some), and CreateTime a number."""
    item = {"TemplateId": template, "SubscribeStatusString": status, "PopupScene": "0"}
    return json.dumps(
        {
            "ToUserName": "gh_7a2c9e4b1f60",
            "FromUserName": openid,
            "CreateTime": int(t) if bare else t,
            "MsgType": "event",
            "Event": "subscribe_msg_popup_event",
            "List": item if bare else [item],
        }
    )


BANNER_HEADER = (
    "ConsentID,VisitorID,ConsentTime,Action,Necessary,Preferences,Statistics,Marketing,URL,"
    "MaskedIP,UserAgent,BannerVersion"
)


def banner(cid: str, visitor: str, ts: str, marketing: str) -> str:
    return f"{cid},{visitor},{ts},accept_all,true,true,true,{marketing},https://x/,1.2.0.0,UA,v3"


def entries(paths, channel: str) -> set[tuple]:
    q = pl.read_parquet(paths.quarantine / "*.parquet").filter(pl.col("channel") == channel)
    return set(q.select("source_file", "source_row", "field", "reason_code").iter_rows())


def ingest_and_check(paths, channel: str, rel: str, broken: dict, kept: list) -> None:
    """Ingest the channel; the quarantine holds exactly ``broken`` (row -> native field) of
    the file, the lake the ``kept`` (the text digested into consent_id, granted), and the
    file reconciles: its five rows are all in the lake or in quarantine."""
    spec = load_specs()[channel]
    report = ingest_channel(spec, paths)
    assert report.quarantined == len(broken)
    got = {(f, r, fld) for f, r, fld, _ in entries(paths, channel)}
    assert got == {(rel, row, field) for row, field in broken.items()}
    lake = pl.read_parquet(paths.lake_raw / "consents" / "*.parquet")
    secret = tombstones.key(paths)
    want = [(tombstones.record_digest(secret, text), granted) for text, granted in kept]
    assert sorted(zip(lake["consent_id"], lake["granted"], strict=True)) == sorted(want)
    (balance,) = reconcile(paths, {channel: spec})
    assert (balance.landing_rows, balance.missing) == (5, 0)


def test_broken_subscribe_pushes_are_quarantined_by_row_and_field(data_dir):
    lines = [
        push("oGOOD1", "1740800000", "accept"),
        push("oBAN", "1740800100", "ban"),  # the platform banned the template: nobody's choice
        push("oNEW", "1740800200", "accept", template="tUNKNOWN"),  # a template not mapped
        push("oTIME", "yesterday", "reject"),
        push("oGOOD2", "1740800300", "reject", bare=True),
    ]
    write(data_dir.landing / POPUP, "\n".join(lines) + "\n")
    ingest_and_check(
        data_dir,
        "wechat",
        POPUP,
        {
            2: "List.SubscribeStatusString",
            3: "List.TemplateId",
            4: "CreateTime",
        },
        [("oGOOD1 1740800000 " + TEMPLATE, True), ("oGOOD2 1740800300 " + TEMPLATE, False)],
    )
    # the consent id is a digest: no column of the lake's consent rows holds an openid
    consents = pl.read_parquet(data_dir.lake_raw / "consents" / "*.parquet")
    text = "\n".join(str(v) for row in consents.iter_rows() for v in row)
    assert "oGOOD" not in text
    idents = pl.read_parquet(data_dir.lake_raw / "identifiers" / "*.parquet")
    assert set(idents["identifier_value"]) == {"oGOOD1", "oGOOD2"}


def test_broken_banner_lines_are_quarantined_by_row_and_field(data_dir):
    rows = [
        banner("cs_1", "a" * 32, "2025-03-01T02:00:00Z", "true"),
        banner("cs_2", "b" * 32, "2025-03-01T02:01:00Z", "yes"),  # not true/false
        banner("cs_3", "c" * 32, "01/03/2025 02:02", "false"),  # not ISO-8601
        banner("", "d" * 32, "2025-03-01T02:03:00Z", "false"),  # no consent id
        banner("cs_5", "e" * 32, "2025-03-01T02:04:00Z", "false"),
    ]
    write(data_dir.landing / BANNER, BANNER_HEADER + "\n" + "\n".join(rows) + "\n")
    ingest_and_check(
        data_dir,
        "web",
        BANNER,
        {2: "Marketing", 3: "ConsentTime", 4: "ConsentID+ConsentTime"},
        [("cs_1 2025-03-01T02:00:00Z", True), ("cs_5 2025-03-01T02:04:00Z", False)],
    )
    ids = pl.read_parquet(data_dir.lake_raw / "identifiers" / "*.parquet")
    banner_ids = set(ids.filter(pl.col("entity") == "consents")["identifier_value"])
    # the visitor id and the cookie's ConsentID (an online identifier: erasure cuts it)
    assert banner_ids == {"a" * 32, "e" * 32, "cs_1", "cs_5"}


def test_a_digest_field_is_declared_over_read_text_only():
    """``digest`` hashes what ``from`` reads: with a constant, a type or a map it is a spec
    error (caught when the spec loads, naming the field)."""
    for bad in (
        {"value": "x", "digest": True},
        {"from": "a", "type": "int", "digest": True},
        {"from": "a", "map": {"x": "y"}, "digest": True},
    ):
        with pytest.raises(ValidationError, match="'digest' hashes the text read"):
            FieldSpec.model_validate(bad)
    ok = FieldSpec.model_validate({"from": ["a", "b"], "digest": True, "required": True})
    assert ok.digest and ok.sources == ["a", "b"]
    # the key is the tombstones', domain-separated: never an identifier's tombstone
    secret = bytes(32)
    assert tombstones.record_digest(secret, "oX") != tombstones.digest(secret, "oX")
    assert len(tombstones.record_digest(secret, "oX 1 t")) == 64
