"""Consent events outside the CRM: WeChat mini-program subscribe-message authorisations and the
web shop's cookie-banner (consent-management platform) log. Each writer has its own random
stream, so every other file of the demo stays byte-identical; its truth is
``truth/consents_<channel>.parquet`` (one row per consent event: the person, the identifier it
names, purpose, granted, UTC time, and ``consent_key``: the text the channel spec digests into
the lake's ``consent_id``, which holds no identifier).

- WeChat (``wechat/mp_subscribe/``): the push events the shop mini-program's message server
  receives and logs one JSON per line, one file per day and kind:
  ``mp_subscribe_popup_<date>.ndjson`` (``subscribe_msg_popup_event``: the user answered the
  ``wx.requestSubscribeMessage`` dialog, ``List`` holds each template with
  ``SubscribeStatusString`` accept or reject) and ``mp_subscribe_change_<date>.ndjson``
  (``subscribe_msg_change_event``: the user switched the template off in the service
  notifications' settings; WeChat pushes only refusals, and a ``List`` of one template comes
  as the bare object). ``ToUserName`` is the mini-program's original id, ``FromUserName`` the
  user's openid in it, ``CreateTime`` Unix seconds (a string in popups, a number in changes). The brand's marketing template (new
  arrivals and restocks) is the ``wechat`` purpose.
- Web (``web/consent_log/consent_log_<date>.csv``): the consent log of the cookie banner, one
  CSV per day: ConsentID (the random key the banner stores in the browser's cookie, the same
  for that browser's later changes), VisitorID (the
  site's anonymous visitor id, the clickstream's ``anonymousId``), ConsentTime (UTC), Action
  (accept_all, reject_all, partial, update), one true/false column per cookie category
  (Necessary, Preferences, Statistics, Marketing), URL, MaskedIP, UserAgent, BannerVersion.
  Marketing cookies are the ``ads`` purpose.
"""

from __future__ import annotations

import base64
from pathlib import Path

import numpy as np
import polars as pl

from ..defects import Defects
from ..demand import World
from ..util import DAY, write_parquet
from ..util import rng_for as _rng_for
from .common import ident_frame
from .web_clickstream import UA

MP_ORIGINAL_ID = "gh_7a2c9e4b1f60"  # the shop mini-program's original id (ToUserName)
MP_MARKETING_TEMPLATE = "tN4oQ9kV2xR7bW1mJ8cY5hL3aZ6pE0sD_restock"
UTC_OFFSET = 8 * 3600  # Beijing local day numbers -> Unix seconds


def _truth(landing: Path, channel: str, frame: pl.DataFrame) -> None:
    write_parquet(frame, landing.parent / "truth" / f"consents_{channel}.parquet")


def write_wechat(w: World, landing: Path, defects: Defects) -> dict:
    rng = _rng_for(w.seed, "consents", "wechat_subscribe")
    P = w.persons
    T = w.cal.days
    sd = w.start_day
    openid = P["openid_mp_shop"].to_numpy()
    who = np.nonzero(P["uses_wechat"].to_numpy() & (openid != ""))[0]
    wants = P["consent_wechat"].to_numpy()[who]
    # the dialog is shown on a first visit in the window; those who want WeChat marketing
    # mostly accept it, the others mostly reject
    day = np.clip(P["acq_day"].to_numpy()[who], 0, T - 1) + rng.integers(0, 20, size=len(who))
    accept = np.where(wants, rng.random(len(who)) < 0.85, rng.random(len(who)) < 0.2)
    sec = rng.integers(8 * 3600, 23 * 3600, size=len(who))
    shown = day < T
    rows = [
        (int(d), int(s), int(i), "popup", "accept" if a else "reject")
        for d, s, i, a in zip(day[shown], sec[shown], who[shown], accept[shown], strict=True)
    ]
    # 15 % of those who accepted switch it off later in the service-notification settings
    # (WeChat pushes that refusal as a change event); a third of those accept the dialog again
    # when the shop shows it later (a popup event: switching on is never pushed as a change)
    off = shown & accept & (rng.random(len(who)) < 0.15)
    off_day = day + 1 + rng.integers(0, max(T, 1), size=len(who))
    on_again = rng.random(len(who)) < 0.33
    on_day = off_day + 1 + rng.integers(0, max(T, 1), size=len(who))
    for j in np.nonzero(off & (off_day < T))[0]:
        rows.append((int(off_day[j]), int(sec[j]), int(who[j]), "change", "reject"))
        if on_again[j] and on_day[j] < T:
            rows.append((int(on_day[j]), int(sec[j]), int(who[j]), "popup", "accept"))
    ev = pl.DataFrame(rows, schema=["t", "sec", "pidx", "kind", "status"], orient="row").sort(
        ["t", "sec", "pidx", "kind"]
    )
    ev = ev.with_columns(
        ((sd + pl.col("t")) * DAY + pl.col("sec") - UTC_OFFSET).alias("CreateTime"),
        pl.Series("FromUserName", openid[ev["pidx"].to_numpy()]),
    )
    files = 0
    src = np.empty(len(ev), dtype=object)
    ymd = w.cal.ymd
    for (t, kind), g in ev.with_row_index("r").group_by(["t", "kind"], maintain_order=True):
        popup = kind == "popup"
        event = "subscribe_msg_popup_event" if popup else "subscribe_msg_change_event"
        items = [
            {"TemplateId": MP_MARKETING_TEMPLATE, "SubscribeStatusString": s}
            | ({"PopupScene": "0"} if popup else {})
            for s in g["status"]
        ]
        # JSON mode as WeChat pushes it: a popup's CreateTime is a string and its List a list;
        # a change event's CreateTime a number and a List of one template the bare object
        body = g.select(
            pl.lit(MP_ORIGINAL_ID).alias("ToUserName"),
            "FromUserName",
            pl.col("CreateTime").cast(pl.Utf8) if popup else pl.col("CreateTime"),
            pl.lit("event").alias("MsgType"),
            pl.lit(event).alias("Event"),
            pl.Series("List", [[i] for i in items] if popup else items),
        )
        rel = f"wechat/mp_subscribe/mp_subscribe_{kind}_{ymd[t]}.ndjson"
        (landing / rel).parent.mkdir(parents=True, exist_ok=True)
        body.write_ndjson(landing / rel)
        src[g["r"].to_numpy()] = rel
        files += 1
    pidx = ev["pidx"].to_numpy()
    pid = P["person_id"].to_numpy()[pidx]
    # the text the spec digests into consent_id (openid, time, template: WeChat's own key)
    ids = [
        f"{o} {c} {MP_MARKETING_TEMPLATE}"
        for o, c in zip(ev["FromUserName"], ev["CreateTime"], strict=True)
    ]
    _truth(
        landing,
        "wechat",
        pl.DataFrame(
            {
                "source_file": src.astype(str),
                "consent_key": ids,
                "person_id": pid,
                "identifier_type": "wechat_openid",
                "identifier_value": ev["FromUserName"],
                "purpose": "wechat",
                "granted": ev["status"] == "accept",
                "consent_ts": pl.from_epoch(ev["CreateTime"], time_unit="s"),
            }
        ),
    )
    return {
        "channel": "wechat",
        "files": files,
        "rows": len(ev),
        "identifiers": ident_frame("wechat", src, ids, "wechat_openid", ev["FromUserName"], pid),
    }


def write_web(w: World, landing: Path, defects: Defects) -> dict:
    rng = _rng_for(w.seed, "consents", "web_banner")
    P = w.persons
    T = w.cal.days
    sd = w.start_day
    anon = P["anon_1"].to_numpy()
    who = np.nonzero(P["web_user"].to_numpy() & (anon != ""))[0]
    n = len(who)
    # the banner on the first visit: accept all, reject all, or only some categories
    day = np.clip(P["acq_day"].to_numpy()[who], 0, T - 1) + rng.integers(0, 10, size=n)
    choice = rng.choice(["accept_all", "reject_all", "partial"], p=[0.55, 0.3, 0.15], size=n)
    stats = rng.random(n) < 0.6
    sec = rng.integers(0, DAY, size=n)
    rows = []
    for j in np.nonzero(day < T)[0]:
        c = choice[j]
        cats = (
            True,
            bool(c != "reject_all"),
            bool(c == "accept_all" or stats[j]),
            bool(c == "accept_all"),
        )
        rows.append((int(day[j]), int(sec[j]), int(who[j]), c, *cats))
    # 10 % of those who accepted marketing withdraw it later from the banner's settings link
    later = day + 1 + rng.integers(0, max(T, 1), size=n)
    withdraw = (choice == "accept_all") & (rng.random(n) < 0.10) & (day < T) & (later < T)
    for j in np.nonzero(withdraw)[0]:
        rows.append((int(later[j]), int(sec[j]), int(who[j]), "update", True, True, True, False))
    cols = ["t", "sec", "pidx", "Action", "Necessary", "Preferences", "Statistics", "Marketing"]
    ev = pl.DataFrame(rows, schema=cols, orient="row").sort(["t", "sec", "pidx"])
    utc_s = (sd + ev["t"]) * DAY + ev["sec"] - UTC_OFFSET
    ev = ev.with_columns(
        pl.Series("utc", utc_s),
        pl.Series("VisitorID", anon[ev["pidx"].to_numpy()]),
        pl.Series("ua", rng.integers(0, len(UA), size=len(ev))),
        pl.Series("ip", rng.integers(1, 255, size=len(ev))),
    ).with_row_index("r")
    # the banner's consent id: a random token per browser, kept in its cookie across the
    # visitor's later changes (a log entry is the id and its time)
    stamp = np.array(
        [base64.b64encode(rng.bytes(18)).decode("ascii") for _ in range(len(who))], dtype=object
    )
    slot = np.full(len(P), -1, dtype=np.int64)
    slot[who] = np.arange(len(who))
    ev = ev.with_columns(
        pl.Series("ConsentID", stamp[slot[ev["pidx"].to_numpy()]].astype(str)),
        pl.from_epoch("utc", time_unit="s").dt.strftime("%Y-%m-%dT%H:%M:%SZ").alias("ConsentTime"),
    )
    files = 0
    src = np.empty(len(ev), dtype=object)
    ymd = w.cal.ymd
    for (t,), g in ev.group_by(["t"], maintain_order=True):
        out = g.select(
            "ConsentID",
            "VisitorID",
            "ConsentTime",
            "Action",
            *(pl.col(c).cast(pl.Utf8).str.to_lowercase() for c in cols[4:]),
            pl.lit("https://shop.example.cn/").alias("URL"),
            (pl.lit("111.") + pl.col("ip").cast(pl.Utf8) + pl.lit(".0.0")).alias("MaskedIP"),
            pl.Series("UserAgent", np.array(UA)[g["ua"].to_numpy()]),
            pl.lit("v3").alias("BannerVersion"),
        )
        rel = f"web/consent_log/consent_log_{ymd[t]}.csv"
        (landing / rel).parent.mkdir(parents=True, exist_ok=True)
        out.write_csv(landing / rel, line_terminator="\n")
        src[g["r"].to_numpy()] = rel
        files += 1
    pid = P["person_id"].to_numpy()[ev["pidx"].to_numpy()]
    _truth(
        landing,
        "web",
        pl.DataFrame(
            {
                "source_file": src.astype(str),
                "consent_key": ev["ConsentID"] + " " + ev["ConsentTime"],
                "person_id": pid,
                "identifier_type": "anonymous_id",
                "identifier_value": ev["VisitorID"],
                "purpose": "ads",
                "granted": ev["Marketing"],
                "consent_ts": pl.from_epoch(ev["utc"], time_unit="s"),
            }
        ),
    )
    return {
        "channel": "web",
        "files": files,
        "rows": len(ev),
        "identifiers": ident_frame(
            "web",
            src,
            (ev["ConsentID"] + " " + ev["ConsentTime"]).to_numpy(),
            "anonymous_id",
            ev["VisitorID"],
            pid,
        ),
    }
