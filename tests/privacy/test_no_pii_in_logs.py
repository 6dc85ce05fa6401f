"""No raw personal data in the run's logs or in Dagster metadata: every event record of the
end-to-end run (log messages, materialisation and check metadata, serialised whole) is
searched for the demo persons' phones (any spelling of the 11 digits, E.164 too) and
e-mails."""

from __future__ import annotations

import re

import dagster as dg
import polars as pl


def test_run_events_hold_no_phone_or_email(built_demo):
    paths, result = built_demo
    persons = pl.read_parquet(paths.truth / "persons.parquet")
    phones = {p for c in ("phone", "phone_new") for p in persons[c].drop_nulls().to_list() if p}
    emails = {
        e.lower() for c in ("email", "email_new") for e in persons[c].drop_nulls().to_list() if e
    }
    assert len(phones) > 300 and len(emails) > 100  # the search has something to find
    text = "\n".join(dg.serialize_value(ev) for ev in result.all_events)
    assert len(result.all_events) > 100 and "ASSET_MATERIALIZATION" in text
    digits = re.sub(r"(?<=\d)[\s\-]+(?=\d)", "", text)  # 138 0013 8000 -> 13800138000
    runs = set(re.findall(r"(?<!\d)(?:\+?86)?(1\d{10})(?!\d)", digits))
    leaked_phones = sorted(runs & phones)
    found_emails = {m.lower() for m in re.findall(r"[\w.+\-]+@[\w\-]+(?:\.[\w\-]+)+", text)}
    leaked_emails = sorted(found_emails & emails)
    assert leaked_phones == [], (
        f"{len(leaked_phones)} phones in run events, e.g. {leaked_phones[:3]}"
    )
    assert leaked_emails == [], (
        f"{len(leaked_emails)} e-mails in run events, e.g. {leaked_emails[:3]}"
    )
