"""Loyalty CRM: member snapshot, points ledger (monthly files), consent records."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import polars as pl

from ..defects import Defects
from ..demand import World
from ..util import DAY, rng_for
from .common import ident_frame
from .pos import shared_card

TIERS = [
    (0, "普通会员"),
    (100_000, "银卡"),
    (300_000, "金卡"),
    (800_000, "黑金卡"),
]  # by spend in cents


def write(w: World, landing: Path, defects: Defects) -> dict:
    rng = rng_for(w.seed, "crm")
    P = w.persons
    T = w.cal.days
    sd = w.start_day
    files = rows = 0
    id_parts = []
    mem = np.nonzero(P["is_member"].to_numpy() & (P["member_join_day"].to_numpy() < T))[0]
    pid_of = P["person_id"].to_numpy()
    # spend and points from orders of members after they joined
    o = w.orders.filter(
        (pl.col("person_idx") >= 0) & pl.col("status").is_in(["paid", "shipped", "completed"])
    )
    o = o.with_columns(pl.col("person_idx").alias("p"))
    join = P["member_join_day"].to_numpy()
    o = o.filter(pl.col("p").is_in(pl.Series(mem).implode()))
    o = o.filter(pl.Series(o["t"].to_numpy() >= join[o["p"].to_numpy()]))
    o = o.with_columns((pl.col("order_gross") - pl.col("order_discount")).alias("net"))
    o = o.filter(pl.col("channel") != "amazon").sort(["ts", "order_idx"])
    earn = o.select(
        pl.col("ts"),
        pl.col("p"),
        pl.lit("EARN").alias("txn_type"),
        (pl.col("net") // 100).alias("points"),
        "channel",
        pl.col("order_id").alias("order_ref"),
        pl.when(pl.col("channel") == "pos")
        .then(pl.col("location_id"))
        .otherwise(None)
        .alias("store_id"),
    )
    red = earn.filter(pl.Series(rng.random(len(earn)) < 0.08)).with_columns(
        pl.lit("REDEEM").alias("txn_type"),
        (-pl.min_horizontal(pl.col("points") * 2, pl.lit(500))).alias("points"),
        (pl.col("ts") + 5),
    )
    # birthday bonus
    bdoy = P["birth_doy"].to_numpy()[mem]
    bday_rows = []
    for t in range(T):
        d = w.cal.dates[t]
        hit = mem[(bdoy == d.timetuple().tm_yday) & (join[mem] <= t)]
        for p in hit.tolist():
            bday_rows.append(
                ((sd + t) * DAY + 9 * 3600, p, "BONUS_BIRTHDAY", 200, "crm", None, None)
            )
    bday = pl.DataFrame(bday_rows, schema=earn.schema, orient="row")
    ledger = (
        pl.concat([earn, red, bday]).filter(pl.col("points") != 0).sort(["ts", "p", "txn_type"])
    )
    ledger = ledger.with_columns(
        pl.Series("member_no", P["member_no"].to_numpy()[ledger["p"].to_numpy()]),
        pl.Series("pid", pid_of[ledger["p"].to_numpy()]),
    ).with_row_index("k")
    ledger = ledger.with_columns(
        (
            pl.lit("PT")
            + (pl.col("ts") // DAY).cast(pl.Utf8)
            + (pl.col("k") + w.shard * 10**8).cast(pl.Utf8).str.zfill(8)
        ).alias("txn_id"),
        (pl.col("ts") // DAY - sd).alias("t"),
    )
    months = np.array([d.strftime("%Y%m") for d in w.cal.dates])
    ledger = ledger.with_columns(pl.Series("month", months[ledger["t"].to_numpy()]))
    for (m,), g in sorted(
        ledger.partition_by(["month"], as_dict=True, maintain_order=True).items()
    ):
        rel = f"crm/points_ledger/points_ledger_{m}.csv"
        (landing / rel).parent.mkdir(parents=True, exist_ok=True)
        g.select(
            "txn_id",
            "member_no",
            pl.from_epoch("ts", time_unit="s").dt.strftime("%Y-%m-%d %H:%M:%S").alias("txn_time"),
            "txn_type",
            "points",
            "channel",
            "order_ref",
            "store_id",
        ).write_csv(landing / rel, line_terminator="\n", null_value="")
        files += 1
        rows += len(g)
        id_parts.append(
            ident_frame(
                "crm",
                rel,
                g["txn_id"].to_numpy(),
                "member_no",
                g["member_no"].to_numpy(),
                g["pid"].to_numpy(),
            )
        )
    # member snapshot at the end of the window
    spend = o.group_by("p").agg(pl.col("net").sum().alias("spend"))
    bal = ledger.group_by("p").agg(pl.col("points").sum().alias("pts"))
    m = (
        pl.DataFrame({"p": mem.astype(np.int64)})
        .join(spend, on="p", how="left", maintain_order="left")
        .join(bal, on="p", how="left", maintain_order="left")
        .with_columns(pl.col("spend").fill_null(0), pl.col("pts").fill_null(0))
    )
    opening = rng.integers(0, 3000, size=len(m)) * (join[mem] < 0)
    tier = np.full(len(m), TIERS[0][1], dtype=object)
    for thr, name in TIERS:
        tier[m["spend"].to_numpy() >= thr] = name
    last = T - 1
    phone = np.where(
        last >= P["phone_change_day"].to_numpy()[mem],
        P["phone_new"].to_numpy()[mem],
        P["phone"].to_numpy()[mem],
    )
    email = np.where(
        last >= P["email_change_day"].to_numpy()[mem],
        P["email_new"].to_numpy()[mem],
        P["email"].to_numpy()[mem],
    )
    auth = P["wx_authorised"].to_numpy()[mem]
    birth = [
        dt.date(int(y), 1, 1) + dt.timedelta(days=int(d) - 1)
        for y, d in zip(
            P["birth_year"].to_numpy()[mem], P["birth_doy"].to_numpy()[mem], strict=True
        )
    ]
    churned = P["churn_day"].to_numpy()[mem] < T
    snap = pl.DataFrame(
        {
            "member_no": P["member_no"].to_numpy()[mem],
            "name": P["full_name"].to_numpy()[mem],
            "gender": np.where(P["female"].to_numpy()[mem], "F", "M"),
            "birthday": birth,
            "mobile": phone,
            "email": email,
            "unionid": np.where(auth, P["unionid"].to_numpy()[mem], ""),
            "tier": tier.astype(str),
            "points_balance": np.maximum(m["pts"].to_numpy() + opening, 0),
            "join_date": (sd + join[mem]).astype("datetime64[D]"),
            "join_store": P["join_store"].to_numpy()[mem],
            "status": np.where(churned & (rng.random(len(mem)) < 0.3), "dormant", "active"),
            "pid": pid_of[mem],
        }
    )
    stores = w.locations.filter(pl.col("location_type") == "store")
    shared = pl.DataFrame(
        {
            "member_no": [shared_card(s) for s in stores["location_id"].to_list()],
            "name": [f"门店公用卡 {s}" for s in stores["location_id"].to_list()],
            "gender": "",
            "birthday": None,
            "mobile": "",
            "email": "",
            "unionid": "",
            "tier": "普通会员",
            "points_balance": 0,
            "join_date": stores["opened_date"].cast(pl.Date),
            "join_store": stores["location_id"],
            "status": "active",
            "pid": -1,
        },
        schema=snap.schema,
    )
    if w.shard:  # a brand generated in shards: the stores' shared cards are the first shard's
        shared = shared.clear()
    snap = (
        pl.concat([snap, shared]).sort("member_no").with_columns(pl.col(pl.Utf8).replace("", None))
    )
    rel = f"crm/members/members_snapshot_{w.cal.ymd[-1]}.csv"
    (landing / rel).parent.mkdir(parents=True, exist_ok=True)
    snap.drop("pid").write_csv(landing / rel, line_terminator="\n", null_value="")
    files += 1
    rows += len(snap)
    k = snap["member_no"].to_numpy()
    pp = snap["pid"].to_numpy()
    for col, typ in (
        ("member_no", "member_no"),
        ("mobile", "phone"),
        ("email", "email"),
        ("unionid", "wechat_unionid"),
    ):
        id_parts.append(ident_frame("crm", rel, k, typ, snap[col].fill_null("").to_numpy(), pp))
    # consents
    rec = []
    ids_for = {
        "email": ("email", P["email"].to_numpy()),
        "sms": ("phone", P["phone"].to_numpy()),
        "wechat": ("wechat_unionid", P["unionid"].to_numpy()),
        "ads": ("phone", P["phone"].to_numpy()),
    }
    acq = P["acq_day"].to_numpy()
    src_of = {"email": "web_checkout", "sms": "pos", "wechat": "wechat_mp", "ads": "crm_signup"}
    # PIPL cross-border consent, asked beside ads at sign-up (a second tick box): 60 % of the
    # persons who grant ads grant it too, 15 % of those withdraw it later. Its own random
    # stream, so every other record of the demo stays as it was.
    rng_cb = rng_for(w.seed, "crm", "cross_border")
    cb_grant = rng_cb.random(len(P)) < 0.6
    cb_revoke = rng_cb.random(len(P)) < 0.15
    cb_when = rng_cb.random(len(P))
    for purpose, (itype, vals) in ids_for.items():
        g = P[f"consent_{purpose}"].to_numpy()
        rv = P[f"consent_{purpose}_revoked_day"].to_numpy()
        ok = g & (vals != "")
        if purpose == "wechat":
            ok &= P["wx_authorised"].to_numpy()
        idx = np.nonzero(ok)[0]
        gday = np.clip(
            np.maximum(acq[idx], join[idx] if purpose == "ads" else acq[idx]), -700, T - 1
        )
        gday = np.where(join[idx] < T, np.minimum(gday, np.maximum(join[idx], gday)), gday)
        for i, d in zip(idx.tolist(), gday.tolist(), strict=True):
            rec.append(
                (
                    (sd + d) * DAY + 36000 + i % 3600,
                    itype,
                    vals[i],
                    purpose,
                    "granted",
                    src_of[purpose],
                    int(pid_of[i]),
                )
            )
            if rv[i] < T:
                rec.append(
                    (
                        (sd + rv[i]) * DAY + 72000 + i % 3600,
                        itype,
                        vals[i],
                        purpose,
                        "revoked",
                        "unsubscribe_link" if purpose == "email" else "customer_service",
                        int(pid_of[i]),
                    )
                )
            if purpose == "ads" and cb_grant[i]:
                ts = (sd + d) * DAY + 36060 + i % 3600
                rec.append((ts, itype, vals[i], "cross_border", "granted", "crm_signup",
                            int(pid_of[i])))  # fmt: skip
                if cb_revoke[i]:
                    day = d + 1 + int(cb_when[i] * max(T - 1 - d, 0))
                    if day < T:
                        rec.append(((sd + day) * DAY + 54000 + i % 3600, itype, vals[i],
                                    "cross_border", "revoked", "customer_service",
                                    int(pid_of[i])))  # fmt: skip
    cons = pl.DataFrame(
        rec,
        schema=["ts", "identifier_type", "identifier_value", "purpose", "status", "source", "pid"],
        orient="row",
    )
    cons = (
        cons.sort(["ts", "identifier_type", "identifier_value", "purpose"])
        .with_row_index("k")
        .with_columns(
            (pl.lit("C") + (pl.col("k") + w.shard * 10**8).cast(pl.Utf8).str.zfill(8)).alias(
                "consent_id"
            )
        )
    )
    rel = "crm/consents/consents.csv"
    (landing / rel).parent.mkdir(parents=True, exist_ok=True)
    cons.select(
        "consent_id",
        "identifier_type",
        "identifier_value",
        "purpose",
        "status",
        pl.from_epoch("ts", time_unit="s")
        .dt.strftime("%Y-%m-%dT%H:%M:%S+08:00")
        .alias("event_time"),
        "source",
    ).write_csv(landing / rel, line_terminator="\n")
    files += 1
    rows += len(cons)
    id_parts.append(
        pl.concat(
            [
                ident_frame(
                    "crm",
                    rel,
                    cons.filter(pl.col("identifier_type") == t)["consent_id"].to_numpy(),
                    t,
                    cons.filter(pl.col("identifier_type") == t)["identifier_value"].to_numpy(),
                    cons.filter(pl.col("identifier_type") == t)["pid"].to_numpy(),
                )
                for t in ("email", "phone", "wechat_unionid")
            ]
        )
    )
    return {"channel": "crm", "files": files, "rows": rows, "identifiers": pl.concat(id_parts)}
