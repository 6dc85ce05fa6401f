"""models.identity.evaluate.attach_truth matches each record to the truth by its record_id,
its first and last word and the part before a slash; it keys rows by number and tries the
other keys only for ids with a space or slash. Its result equals the match of every key of
every distinct record (the implementation it replaced, kept here as the reference)."""

import random

import duckdb
import polars as pl

from models.identity.evaluate import (
    MATCH_KEY,
    MATCHES,
    attach_truth,
    evaluate_warehouse,
    score_records,
    truth_records,
    warehouse_records,
)


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


# ----------------------------------------------------------------------------- the warehouse
# evaluate_warehouse keeps each record's match (identity.truth_matches) and matches only the
# records it has not seen; its scores equal score_records on every record, run after run


def _warehouse(con, records: pl.DataFrame) -> None:
    """identity.record_customers and staging.stg_lake__identifiers of ``records`` (channel,
    entity, record_id, source_file, customer_id): a record's source file is its first."""
    con.execute("create schema if not exists identity")
    con.execute("create schema if not exists staging")
    con.register("_r", records.to_arrow())
    con.execute(
        "create or replace table staging.stg_lake__identifiers as "
        "select channel, entity, record_id, source_file from _r"
    )
    con.execute(
        "create or replace table identity.record_customers as select channel, entity, "
        "record_id, min(customer_id) as customer_id from _r group by all"
    )
    con.unregister("_r")


def _reference(con, truth_dir):
    """Every record matched again (main's evaluate_warehouse)."""
    return score_records(warehouse_records(con), truth_records(truth_dir))


def _held(con) -> pl.DataFrame:
    return pl.from_arrow(con.execute(f"select {', '.join(MATCH_KEY)} from {MATCHES}").arrow())


def _same(con, truth_dir) -> dict:
    scores, extra = evaluate_warehouse(con, truth_dir)
    want_scores, want_extra = _reference(con, truth_dir)
    assert scores == want_scores
    assert {k: extra[k] for k in want_extra} == want_extra
    return extra


def test_the_warehouse_scores_match_each_record_once(tmp_path):
    records, truth = _frames(seed=11, n=4000)
    records = records.filter(pl.col("record_id").is_not_null())
    truth_dir = tmp_path / "truth"
    truth_dir.mkdir()
    truth.write_parquet(truth_dir / "identifiers.parquet")
    first, later = records.head(3000), records.tail(records.height - 3000)
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    _warehouse(con, first)
    done = _same(con, truth_dir)
    n = warehouse_records(con).height
    assert done["records_matched_now"] == n and not done["truth_matches_reused"]
    assert done["records_with_person"] > 1000 and done["outsider_records"] > 100
    # nothing changed: nothing matched
    done = _same(con, truth_dir)
    assert done["truth_matches_reused"] and done["records_matched_now"] == 0
    # a day: records added, some gone, customers moved, one record seen in an earlier file
    moved = first.slice(200, 300).with_columns(pl.lit("C-new").alias("customer_id"))
    earlier = first.slice(500, 1).with_columns(pl.lit("aaa/first.csv").alias("source_file"))
    day = pl.concat([first.slice(200), later, earlier]).join(
        moved.select("channel", "entity", "record_id", "source_file"),
        on=["channel", "entity", "record_id", "source_file"],
        how="anti",
    )
    _warehouse(con, pl.concat([day, moved]))
    held = _held(con)
    now = warehouse_records(con)
    unseen = now.join(held, on=MATCH_KEY, how="anti").height
    gone = held.join(now, on=MATCH_KEY, how="anti").height
    done = _same(con, truth_dir)
    assert done["truth_matches_reused"] and done["records_matched_now"] == unseen
    assert 0 < gone < unseen < now.height / 2
    # the rows of records gone stay while they are under a tenth of the table (a stored row
    # is right for its key whenever the key comes back), then go
    assert done["truth_matches_dropped"] == 0 and _held(con).height == held.height + unseen
    _warehouse(con, pl.concat([day, moved]).slice(600))
    done = _same(con, truth_dir)
    assert done["records_matched_now"] == 0 and done["truth_matches_dropped"] > 600
    assert (
        _held(con).sort(MATCH_KEY).equals(warehouse_records(con).select(MATCH_KEY).sort(MATCH_KEY))
    )
    # another truth: no stored match is kept (a stale one would score the old truth)
    changed = truth.with_columns(
        pl.when(pl.col("person_id") % 3 == 0).then(pl.col("person_id") + 1)
        .otherwise(pl.col("person_id")).alias("person_id")
    )  # fmt: skip
    changed.write_parquet(truth_dir / "identifiers.parquet")
    new_truth = _reference(con, truth_dir)
    done = _same(con, truth_dir)
    n = warehouse_records(con).height
    assert not done["truth_matches_reused"] and done["records_matched_now"] == n
    truth.write_parquet(truth_dir / "identifiers.parquet")
    assert _reference(con, truth_dir) != new_truth  # the change moves the scores
    con.close()
