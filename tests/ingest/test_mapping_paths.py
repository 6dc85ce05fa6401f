"""The mapping's short cuts give what the long way gives: the duplicate-key split without its
sort or window, the identifiers of several fields normalised together, plain columns known
by the caller."""

from __future__ import annotations

import datetime as dt

import polars as pl

from ingest import engine as E
from ingest.spec import ChannelSpec


def _good(rows: list[tuple[int, int, int, str, str]]) -> pl.DataFrame:
    """(FILE, ROW, UID, order_id, amount) rows of a mapped batch."""
    return pl.DataFrame(
        rows,
        schema={
            E.FILE: pl.Int32,
            E.ROW: pl.Int64,
            E.UID: pl.UInt32,
            "id": pl.String,
            "x": pl.String,
        },
        orient="row",
    )


def _with_raw(df: pl.DataFrame) -> pl.DataFrame:
    """The source record of (FILE, ROW): equal for rows 1 and 3 of file 0, else distinct."""
    raw = pl.concat_str(
        pl.col(E.FILE).cast(pl.String),
        pl.when((pl.col(E.FILE) == 0) & pl.col(E.ROW).is_in([1, 3]))
        .then(pl.lit(1))
        .otherwise(pl.col(E.ROW))
        .cast(pl.String),
        separator=":",
    )
    return df.drop(E.RAW, strict=False).with_columns(raw.alias(E.RAW))


def test_row_order_is_told_apart_from_any_other_order():
    ordered = _good(
        [(0, 1, 0, "a", ""), (0, 1, 1, "b", ""), (0, 2, 2, "a", ""), (1, 1, 3, "a", "")]
    )
    assert E._in_row_order(ordered) and E._in_row_order(ordered.head(1))
    assert E._in_row_order(ordered.clear())
    for i in range(1, ordered.height):  # any two neighbours swapped
        swapped = pl.concat(
            [ordered[: i - 1], ordered[i : i + 1], ordered[i - 1 : i], ordered[i + 1 :]]
        )
        assert not E._in_row_order(swapped), i
    nulls = ordered.with_columns(pl.Series(E.ROW, [1, None, 2, 1], dtype=pl.Int64))
    assert not E._in_row_order(nulls)


def test_duplicate_split_is_the_same_in_any_row_order():
    rows = [
        (0, 1, 0, "a", "1"),
        (0, 1, 1, "a", "2"),  # the same source line (an exploded record): not a duplicate
        (0, 2, 2, "b", "1"),
        (0, 3, 3, "a", "1"),  # row 1 again, byte for byte: an exact duplicate
        (0, 4, 4, "b", "9"),  # key b again with other contents: a conflict
        (1, 1, 5, "a", "1"),  # another file: its own first occurrence
    ]
    ordered, shuffled = _good(rows), _good(rows).sample(fraction=1.0, shuffle=True, seed=3)
    assert not E._in_row_order(shuffled)
    kept, dups = E._split_duplicates(ordered, ["id"], _with_raw)
    kept2, dups2 = E._split_duplicates(shuffled, ["id"], _with_raw)
    assert kept.equals(kept2) and dups.equals(dups2)
    assert kept[E.UID].to_list() == [0, 1, 2, 5]
    assert dups.select(E.ROW, "__code").rows() == [
        (3, "duplicate_row"),
        (4, "conflicting_duplicate"),
    ]
    assert dups["__reason"].to_list() == [
        "exact duplicate of row 1",
        "duplicate key id=b first seen at row 2 with different contents",
    ]


def test_a_batch_without_a_repeated_key_loses_nothing_and_is_sorted():
    rows = [(1, 2, 3, "c", ""), (0, 1, 0, "a", ""), (0, 2, 1, "b", ""), (1, 1, 2, "a", "")]
    kept, dups = E._split_duplicates(_good(rows), ["id"], _with_raw)
    assert dups.height == 0 and dups.columns == kept.columns
    assert kept.equals(_good(rows).sort(E.FILE, E.ROW, E.UID))


def _consents(identifiers: dict) -> ChannelSpec:
    return ChannelSpec.model_validate(
        {
            "channel": "t",
            "description": "t",
            "timezone": "UTC",
            "sources": [
                {
                    "name": "c",
                    "pattern": "*.csv",
                    "format": "csv",
                    "entities": {
                        "consents": {
                            "fields": {
                                "consent_id": {"from": "id", "required": True},
                                "consent_ts": {
                                    "from": "ts",
                                    "type": "timestamp",
                                    "formats": ["%Y-%m-%d %H:%M:%S"],
                                },
                            },
                            "identifiers": identifiers,
                        }
                    },
                }
            ],
        }
    )


def test_identifiers_of_several_fields_come_in_spec_then_row_order():
    """One normalisation over every identifier field of the entity: each row gets its own
    field's value (the same raw text in two fields, or two kinds, is normalised by kind),
    rejected rows give none, and the rows come field by field, in the record order."""
    spec = _consents(
        {
            "mobile": {"from": "tel", "type": "phone"},
            "mail": {"from": "mail", "type": "email"},
            "subject": {
                "from": "subject",
                "type_from": "kind",
                "type_map": {"phone": "phone", "email": "email", "unionid": "wechat_unionid"},
            },
        }
    )
    frame = pl.DataFrame(
        {
            "id": ["c1", "c2", "c3", "", "c5"],
            "ts": ["2024-01-01 10:00:00"] * 5,
            "tel": ["138 0013 8000", "'13800138000", "n/a", "13900139000", "13800138000"],
            "mail": ["Li@Example.com", None, "li@example.com ", "x@y.com", "bad"],
            "subject": ["13800138000", "Li@Example.com", "oABC", "13800138000", "138****5678"],
            "kind": ["phone", "email", "unionid", "phone", "phone"],
            E.ROW: [1, 2, 3, 4, 5],
        }
    )
    res = E.map_entity(frame, "consents", spec.sources[0].entities["consents"], spec)
    assert res.rejected["source_row"].to_list() == [4]  # no consent_id
    got = res.identifiers.select(
        "record_id", "field", "identifier_type", "identifier_value", "is_partial", "source_row"
    ).rows()
    assert got == [
        ("c1", "mobile", "phone", "+8613800138000", False, 1),
        ("c2", "mobile", "phone", "+8613800138000", False, 2),
        ("c5", "mobile", "phone", "+8613800138000", False, 5),
        ("c1", "mail", "email", "li@example.com", False, 1),
        ("c3", "mail", "email", "li@example.com", False, 3),
        ("c1", "subject", "phone", "+8613800138000", False, 1),
        ("c2", "subject", "email", "li@example.com", False, 2),
        ("c3", "subject", "wechat_unionid", "oABC", False, 3),
        ("c5", "subject", "phone", "138****5678", True, 5),
    ]
    assert res.identifiers.columns == [*E.ENTITIES["identifiers"]["columns"], "source_row", E.FILE]


def test_identifiers_that_normalise_to_nothing_give_the_empty_frame():
    spec = _consents({"mobile": {"from": "tel", "type": "phone"}})
    frame = pl.DataFrame({"id": ["c1"], "ts": ["2024-01-01 10:00:00"], "tel": ["n/a"], E.ROW: [1]})
    res = E.map_entity(frame, "consents", spec.sources[0].entities["consents"], spec)
    assert res.kept.height == 1 and res.identifiers.height == 0
    want = {**E.ENTITIES["identifiers"]["columns"], "source_row": pl.Int64, E.FILE: pl.Int32}
    assert dict(res.identifiers.schema) == want


def test_plain_columns_given_by_the_caller_change_nothing():
    """``load_batch`` finds the plain columns once per frame for every entity reading it;
    found on the whole frame, or not at all, the mapping is the same."""
    spec = _consents({"mobile": {"from": "tel", "type": "phone"}})
    frame = pl.DataFrame(
        {
            "id": ['="c1"', " c2 ", "'c3", "c4"],
            "ts": ["2024-01-01 10:00:00"] * 4,
            "tel": ["13800138000", "`13900139000", " 13700137000 ", "-"],
            E.ROW: [1, 2, 3, 4],
        }
    )
    espec = spec.sources[0].entities["consents"]
    found = E._plain_columns(frame, ["id", "ts", "tel"])
    assert found == {"ts"}
    results = [
        E.map_entity(frame, "consents", espec, spec, plain=plain)
        for plain in (None, found, frozenset())
    ]
    for res in results[1:]:
        assert res.kept.equals(results[0].kept)
        assert res.identifiers.equals(results[0].identifiers)
        assert res.rejected.equals(results[0].rejected)
    assert results[0].kept["consent_id"].to_list() == ["c1", "c2", "c3", "c4"]
    assert results[0].identifiers["identifier_value"].to_list() == [
        "+8613800138000",
        "+8613900139000",
        "+8613700137000",
    ]


def test_a_timestamp_in_any_of_its_formats_whatever_the_first_reads():
    """A field with several formats: each value is read by the first format that reads it,
    whether the batch's first format reads every value, some or none."""
    spec = _consents({})
    espec = spec.sources[0].entities["consents"]
    espec.fields["consent_ts"].formats = ["%Y-%m-%d %H:%M:%S", "%Y/%m/%d %H:%M", "%d.%m.%Y"]
    values = {
        "2024-01-02 03:04:05": dt.datetime(2024, 1, 2, 3, 4, 5),
        "2024/01/02 03:04": dt.datetime(2024, 1, 2, 3, 4),
        "02.01.2024": dt.datetime(2024, 1, 2),
    }
    batches = [
        ["2024-01-02 03:04:05", "2024-01-02 03:04:05"],  # the first format reads all
        ["2024/01/02 03:04", "2024-01-02 03:04:05", "", "02.01.2024", "soon", "2024/01/02 03:04"],
        ["02.01.2024", "2024/01/02 03:04"],  # the first reads none
    ]
    for texts in batches:
        frame = pl.DataFrame(
            {
                "id": [f"c{i}" for i in range(len(texts))],
                "ts": texts,
                E.ROW: range(1, len(texts) + 1),
            }
        )
        res = E.map_entity(frame, "consents", espec, spec)
        kept = dict(zip(res.kept["consent_id"], res.kept["consent_ts"], strict=True))
        for i, text in enumerate(texts):
            if text in values:
                assert kept[f"c{i}"] == values[text], text
            elif text == "":
                assert kept[f"c{i}"] is None
        bad = [t for t in texts if t and t not in values]
        assert res.rejected["reason_code"].to_list() == ["invalid_value"] * len(bad)
        assert all(f"'{t}'" in r for t, r in zip(bad, res.rejected["reason"], strict=True))
