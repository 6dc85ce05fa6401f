"""Brand-account activity on WeChat official account articles, Weibo and Xiaohongshu
(follows, likes, comments, shares, collects, mentions) with platform account ids; NDJSON per month."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl

from ..defects import Defects
from ..demand import World
from ..util import DAY, HEX, random_strings, rng_for
from .common import browse_sessions, ident_frame

PLATFORMS = {
    "weibo": (
        "weibo_uid",
        ["follow", "like", "comment", "repost", "mention"],
        [0.1, 0.5, 0.2, 0.1, 0.1],
    ),
    "xiaohongshu": (
        "xhs_id",
        ["follow", "like", "collect", "comment", "share"],
        [0.1, 0.4, 0.25, 0.15, 0.1],
    ),
    "wechat_oa": (
        "openid_oa",
        ["read", "like", "wow", "comment", "share"],
        [0.5, 0.2, 0.1, 0.1, 0.1],
    ),
}
TEXTS = [
    "求测评",
    "已种草",
    "敏感肌亲测好用",
    "什么时候打折",
    "包装好好看",
    "回购了",
    "这个色号绝了",
    "求小样",
    "双11会降价吗",
    "冲冲冲",
]


def write(w: World, landing: Path, defects: Defects) -> dict:
    P = w.persons
    sd = w.start_day
    files = rows = 0
    id_parts = []
    months = np.array([d.strftime("%Y%m") for d in w.cal.dates])
    for plat, (col, actions, probs) in PLATFORMS.items():
        rng = rng_for(w.seed, "social", plat)
        pool = np.nonzero(
            P["social_user"].to_numpy() if plat != "wechat_oa" else P["uses_wechat"].to_numpy()
        )[0]
        sp, st, ss = browse_sessions(w, rng, pool, 6.0 if plat != "wechat_oa" else 4.0)
        n = len(sp)
        # outsiders (not customers) are half of the audience
        n_out = n // 2
        o_t = rng.integers(0, w.cal.days, size=n_out)
        o_s = rng.integers(8 * 3600, 24 * 3600, size=n_out)
        if plat == "weibo":
            o_id = rng.integers(1_000_000_000, 7_999_999_999, size=n_out).astype(str)
        elif plat == "xiaohongshu":
            o_id = random_strings(rng, n_out, 24, HEX)
        else:
            o_id = np.char.add(
                "o6_bma",
                random_strings(
                    rng,
                    n_out,
                    22,
                    "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ-_",
                ),
            )
        acc = np.r_[P[col].to_numpy()[sp].astype(str), o_id]
        pid = np.r_[P["person_id"].to_numpy()[sp], np.full(n_out, -1)]
        t = np.r_[st, o_t]
        s = np.r_[ss, o_s]
        act = np.array(actions)[rng.choice(len(actions), size=len(t), p=probs)]
        post = np.char.add("post_", ((t // 3) * 3).astype(str))
        post = np.char.add(np.char.add(f"{plat[:2]}", post), np.char.add("_", (t % 3).astype(str)))
        text = np.where(
            np.isin(act, ["comment", "mention"]),
            np.array(TEXTS)[rng.integers(0, len(TEXTS), size=len(t))],
            "",
        )
        pidx = np.r_[sp, np.full(n_out, -1)]  # row in P, -1 for outsiders
        nick = np.where(
            pidx >= 0,
            P["douyin_nick"].to_numpy()[np.maximum(pidx, 0)],
            np.char.add("用户", np.array([a[-6:] for a in acc])),
        )
        df = pl.DataFrame(
            {
                "ts": (sd + t) * DAY + s,
                "platform": plat,
                "account_id": acc,
                "nickname": nick,
                "action": act,
                "post_id": post,
                "content": text,
                "pid": pid,
            }
        ).with_columns(pl.col("content").replace("", None))
        df = (
            df.sort(["ts", "account_id", "action"])
            .with_row_index("k")
            .with_columns(
                (
                    pl.lit(plat[:2].upper())
                    + pl.col("ts").cast(pl.Utf8)
                    + (pl.col("k") + w.shard * 10**7).cast(pl.Utf8).str.zfill(7)
                ).alias("interaction_id")
            )
        )
        df = df.with_columns(pl.Series("month", months[(df["ts"].to_numpy() // DAY) - sd]))
        out = df.select(
            "interaction_id",
            "platform",
            "account_id",
            "nickname",
            "action",
            "post_id",
            "content",
            (pl.from_epoch("ts", time_unit="s").dt.strftime("%Y-%m-%dT%H:%M:%S") + "+08:00").alias(
                "created_at"
            ),
            "month",
            "pid",
        )
        for (m,), g in sorted(
            out.partition_by(["month"], as_dict=True, maintain_order=True).items()
        ):
            rel = f"social/{plat}/{plat}_interactions_{m}.ndjson"
            (landing / rel).parent.mkdir(parents=True, exist_ok=True)
            js = g.select(pl.struct(pl.exclude("month", "pid")).struct.json_encode())
            (landing / rel).write_text("\n".join(js.to_series().to_list()) + "\n", encoding="utf-8")
            files += 1
            rows += len(g)
            typ = "wechat_openid" if plat == "wechat_oa" else "social_account_id"
            id_parts.append(
                ident_frame(
                    "social",
                    rel,
                    g["interaction_id"].to_numpy(),
                    typ,
                    g["account_id"].to_numpy(),
                    g["pid"].to_numpy(),
                )
            )
    return {"channel": "social", "files": files, "rows": rows, "identifiers": pl.concat(id_parts)}
