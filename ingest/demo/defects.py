"""Registry of planted defects; every writer reports what it planted, where."""

from __future__ import annotations

from dataclasses import dataclass, field

import polars as pl

KINDS = {
    "exact_duplicate_row": "a data row/line repeated verbatim in the same file (row = the copy)",
    "duplicate_file": "the same file delivered twice (file = the second, byte-identical copy)",
    "corrected_redelivery": "a corrected file that supersedes an earlier one (file = the correction)",
    "superseded_file": "the earlier file that a corrected re-delivery replaces",
    "mixed_phone_formats": "phone numbers spelled in several formats in one file",
    "mixed_date_format": "dates in a different format than the rest of the channel",
    "fullwidth_or_emoji_name": "full-width characters or emoji in a person name",
    "test_order": "a test order (flagged test in the source)",
    "brushing_order": "a fake order of a brushing ring (many accounts, one address, tiny amount)",
    "bot_session": "a bot/crawler session in the clickstream (row = its first line)",
    "unknown_channel_sku": "a channel SKU code absent from the SKU map",
    "truncated_file": "a file cut off mid-record (row = the last, partial line)",
    "malformed_json_line": "one line of an NDJSON file is not valid JSON",
    "default_phone": "store staff keyed the default phone 13800138000 for a walk-in",
    "shared_member_card": "store staff keyed the store's shared member card",
}


@dataclass
class Defects:
    rows: list[dict] = field(default_factory=list)

    def add(self, kind: str, channel: str, file: str, row: int | None, detail: str = "") -> None:
        assert kind in KINDS, kind
        self.rows.append(
            {"kind": kind, "channel": channel, "file": file, "row": row, "detail": detail}
        )

    def frame(self) -> pl.DataFrame:
        df = pl.DataFrame(
            self.rows,
            schema={
                "kind": pl.Utf8,
                "channel": pl.Utf8,
                "file": pl.Utf8,
                "row": pl.Int64,
                "detail": pl.Utf8,
            },
        )
        df = df.sort(["channel", "file", "row", "kind", "detail"], nulls_last=False)
        return df.with_columns(
            pl.format("D{}", (pl.int_range(pl.len()) + 1).cast(pl.Utf8).str.zfill(5)).alias(
                "defect_id"
            )
        ).select("defect_id", "kind", "channel", "file", "row", "detail")
