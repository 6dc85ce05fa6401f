"""models.identity.evaluate.attach_truth matches each record to the truth by its record_id,
its first and last word and the part before a slash; it keys rows by number and tries the
other keys only for ids with a space or slash. Its result equals the match of every key of
every distinct record (the implementation it replaced, kept here as the reference)."""

import random

import polars as pl

from models.identity.evaluate import attach_truth, score_records


def reference(records: pl.DataFrame, truth: pl.DataFrame) -> pl.DataFrame:
    """Every key of every distinct record joined to the truth (main 992145b's code)."""
    rid = pl.col("record_id")
    candidates = (
        records.select("channel", "entity", "record_id", "source_file")
        .unique()
        .with_columns(
            pl.concat_list(
                rid,
                rid.str.split(" ").list.last(),
                rid.str.split(" ").list.first(),
                rid.str.split("/").list.first(),
            )
            .list.unique()
            .alias("record_key")
        )
        .explode("record_key", empty_as_null=True)
    )
    matched = (
        candidates.join(truth, on=["channel", "source_file", "record_key"], how="inner")
        .group_by("channel", "entity", "record_id", "source_file")
        .agg(pl.col("person_id").first(), pl.len().alias("_n"))
        .with_columns(pl.lit(True).alias("in_truth"))
        .drop("_n")
    )
    return records.join(
        matched, on=["channel", "entity", "record_id", "source_file"], how="left"
    ).with_columns(pl.col("in_truth").fill_null(False))


def _frames(seed: int = 7, n: int = 3000):
    rng = random.Random(seed)
    recs, truth = [], []
    for k in range(n):
        channel = rng.choice(["pos", "tmall", "amazon"])
        file = f"{channel}/f{rng.randrange(5)}.csv"
        key = f"O{k}"
        shape = rng.randrange(6)
        record_id = [
            key,
            f"ST-BJ-0{k % 3} {key}",  # the store in front: the last word
            f"{key} ST-BJ-01",  # the first word
            f"{key}/buyer",  # the role behind: before the slash
            f"{key} {key}",  # first and last word the same
            None,
        ][shape]
        if rng.random() < 0.85:  # the rest are not in the truth (outsiders, other files)
            person = rng.choice([None, rng.randrange(400)])  # a null person: an outsider
            truth.append((channel, file if rng.random() < 0.95 else "other.csv", key, person))
        entity = rng.choice(["orders", "members"])
        recs.append((channel, entity, record_id, file, rng.choice([None, f"C{k % 900}"])))
    recs += recs[:50]  # the same record twice
    records = pl.DataFrame(
        recs, schema=["channel", "entity", "record_id", "source_file", "customer_id"], orient="row"
    )
    truth = pl.DataFrame(
        truth,
        schema={"channel": pl.String, "source_file": pl.String, "record_key": pl.String,
                "person_id": pl.Int64},
        orient="row",
    )  # fmt: skip
    return records, truth.unique(["channel", "source_file", "record_key"], keep="first")


def test_attach_truth_equals_the_match_of_every_key():
    records, truth = _frames()
    got = attach_truth(records, truth)
    want = reference(records, truth)
    assert got.columns == want.columns
    assert got.height == records.height
    assert got.select(records.columns).equals(records)  # the records' order kept
    key = records.columns
    assert got.sort(key, nulls_last=True).equals(want.sort(key, nulls_last=True))
    assert got["in_truth"].sum() > 2000 and got["person_id"].null_count() > 300
    assert score_records(records, truth) == score_records_reference(records, truth)


def score_records_reference(records, truth):
    import models.identity.evaluate as ev

    real = ev.attach_truth
    ev.attach_truth = reference
    try:
        return ev.score_records(records, truth)
    finally:
        ev.attach_truth = real


def test_the_record_id_itself_wins_over_its_words():
    """Two keys of one record in the truth with other persons: the record_id's own person,
    then the last word's (the reference left this to the join's order)."""
    records = pl.DataFrame(
        {"channel": ["pos"] * 2, "entity": ["orders"] * 2, "record_id": ["S1 O1", "S2 O2"],
         "source_file": ["pos/a.csv"] * 2, "customer_id": ["C1", "C2"]}
    )  # fmt: skip
    truth = pl.DataFrame(
        {"channel": ["pos"] * 4, "source_file": ["pos/a.csv"] * 4,
         "record_key": ["O1", "S1 O1", "S2", "O2"], "person_id": [1, 2, 3, 4]}
    )  # fmt: skip
    got = attach_truth(records, truth)
    assert got["person_id"].to_list() == [2, 4] and got["in_truth"].all()
