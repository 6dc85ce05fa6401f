"""Accuracy of identity resolution against the demo brand's truth.

Evaluation only: the pipeline never reads ``data/truth/``; this module does when it exists.
``truth/identifiers.parquet`` names the person behind every record (channel, source file,
the record's natural key as the source shows it). A record's customer is the one
``identity.record_customers`` gives it; two records are a true pair when the same person is
behind both. Records of people outside the customer base (walk-ins, anonymous viewers: no
person in the truth) are left out of the pairs, and reported apart: how many of them were
put with a known person's records.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from ingest.config import one_thread, replace_tables
from ingest.engine import file_sha256
from models.identity.metrics import PairScores, cell_scores, pairwise_scores
from models.identity.warehouse import RECORD_SEP, table_names


def truth_records(truth_dir: Path, files: pl.DataFrame | None = None) -> pl.DataFrame | None:
    """The truth's records (channel, source_file, record_key, person_id), the first row of each
    key; only those of ``files`` (channel, source_file) when given. None without a truth."""
    path = truth_dir / "identifiers.parquet"
    if not path.exists():
        return None
    truth = pl.scan_parquet(path).select("channel", "source_file", "record_key", "person_id")
    if files is not None:
        truth = truth.join(files.lazy(), on=["channel", "source_file"], how="semi")
    return truth.unique(["channel", "source_file", "record_key"], keep="first").collect()


def attach_truth(records: pl.DataFrame, truth: pl.DataFrame) -> pl.DataFrame:
    """``records`` (channel, entity, record_id, source_file, ...) with the truth's
    ``person_id`` and ``in_truth``. The truth keys a record by its natural key (order id,
    receipt number, external_userid); the lake's record_id is the entity key, sometimes with
    the store in front (``ST-BJ-01 BJ01…``) or the role behind (``…/buyer``): the match tries
    the record_id, its first and last word and the part before a slash, within one file (the
    first of them that matches, in that order, names the person).

    Each row is matched by its row number: the other keys are tried only for the record_ids
    with a space or a slash (~3 % of the demo's), and the truth is joined back by that number,
    not by four text columns (the pairwise check reads ~700k records every day)."""
    rid = pl.col("record_id")
    keyed = records.select("channel", "record_id", "source_file").with_row_index("_row")
    split = keyed.filter(rid.str.contains(" ", literal=True) | rid.str.contains("/", literal=True))
    other = (
        split.with_columns(
            pl.concat_list(
                rid.str.split(" ").list.last(),
                rid.str.split(" ").list.first(),
                rid.str.split("/").list.first(),
            ).alias("record_key"),
            pl.lit([1, 2, 3], dtype=pl.List(pl.UInt8)).alias("_try"),
        )
        .explode("record_key", "_try")
        .filter(pl.col("record_key") != rid)
    )
    candidates = pl.concat(
        [
            keyed.select(
                "_row",
                "channel",
                "source_file",
                rid.alias("record_key"),
                pl.lit(0, pl.UInt8).alias("_try"),
            ),  # fmt: skip
            other.select("_row", "channel", "source_file", "record_key", "_try"),
        ]
    )
    matched = (
        candidates.join(truth, on=["channel", "source_file", "record_key"], how="inner")
        .group_by("_row")
        .agg(pl.col("person_id").sort_by("_try").first())
        .with_columns(pl.lit(True).alias("in_truth"))
    )
    return (
        records.with_row_index("_row")
        .join(matched, on="_row", how="left", maintain_order="left")
        .drop("_row")
        .with_columns(pl.col("in_truth").fill_null(False))
    )


def score_records(records: pl.DataFrame, truth: pl.DataFrame) -> tuple[PairScores, dict]:
    """Pairwise scores of ``records`` (channel, entity, record_id, source_file, customer_id)
    against the truth, and a few counts beside them."""
    judged = attach_truth(records, truth)
    known = judged.filter(pl.col("person_id").is_not_null())
    scores = pairwise_scores(known, cluster="customer_id", truth="person_id")
    known_customers = known.select("customer_id").drop_nulls().unique()
    outsiders = judged.filter(pl.col("in_truth") & pl.col("person_id").is_null())
    absorbed = outsiders.join(known_customers, on="customer_id", how="semi").height
    extra = {
        "records": judged.height,
        "records_matched_to_truth": int(judged["in_truth"].sum()),
        "records_with_person": known.height,
        "outsider_records": outsiders.height,
        "outsider_records_with_a_known_person": absorbed,
    }
    return scores, extra


RECORDS_SQL = """
    select r.channel, r.entity, r.record_id, s.source_file, r.customer_id
    from identity.record_customers r
    join (select channel, entity, record_id, min(source_file) as source_file
          from staging.stg_lake__identifiers group by all) s
      using (channel, entity, record_id)
"""

# Each record's match to the truth, kept between runs: (channel, entity, record_id,
# source_file) -> person_id, in_truth, under the truth file of truth_sha256. A row is a
# function of its key and that file only (attach_truth reads nothing else), so a stored row is
# the row a match now would give, whenever its key is read: a run matches only the records of a
# key it does not hold (new, or seen in another source file), another truth file matches every
# record again. The rows of records gone are dropped once they are a tenth of the table. It
# holds record ids (a member no. may be one): an erasure drops it (models/privacy/erase.py).
MATCHES = "identity.truth_matches"
MATCH_KEY = ["channel", "entity", "record_id", "source_file"]
STALE_SHARE = 0.1


def warehouse_records(con) -> pl.DataFrame:
    """identity.record_customers with each record's source file: channel, entity, record_id,
    source_file, customer_id."""
    return pl.from_arrow(con.execute(RECORDS_SQL).arrow())


def _same_key(a: str, b: str) -> str:
    return " and ".join(f"{a}.{k} is not distinct from {b}.{k}" for k in MATCH_KEY)


def _match(keys: pl.DataFrame, truth_dir: Path, sha: str) -> pl.DataFrame:
    """attach_truth of ``keys`` (MATCH_KEY, distinct), with the truth's sha: rows of MATCHES."""
    # only the truth of these records' files (the truth is keyed by file)
    truth = truth_records(truth_dir, keys.select("channel", "source_file").unique())
    return attach_truth(keys, truth).with_columns(pl.lit(sha).alias("truth_sha256"))


def evaluate_warehouse(con, truth_dir: Path) -> tuple[PairScores, dict] | None:
    """Scores of identity.record_customers against the truth (as score_records scores them);
    None without a truth. Each record is matched to the truth once, kept in
    identity.truth_matches (written here: ``con`` must be read-write); the scores are counted
    in DuckDB from the records joined to their matches, on one thread."""
    path = truth_dir / "identifiers.parquet"
    if not path.exists():
        return None
    with one_thread(con):
        return _evaluate(con, truth_dir, file_sha256(path))


def _evaluate(con, truth_dir: Path, sha: str) -> tuple[PairScores, dict]:
    schema, name = MATCHES.split(".")
    held = MATCHES in table_names(con)
    shas = con.execute(f"select distinct truth_sha256 from {MATCHES}").fetchall() if held else []
    reused = shas == [(sha,)]
    keys = ", ".join(MATCH_KEY)
    matched = 0
    if not reused:  # every record matched again
        every = con.execute(f"select distinct {keys} from ({RECORDS_SQL})").pl()
        replace_tables(con, schema, {name: _match(every, truth_dir, sha)})
        matched = every.height
    stored = con.execute(f"select count(*) from {MATCHES}").fetchone()[0]
    con.execute(
        f"create or replace temp table _eval_records as select r.*, m.person_id, m.in_truth, "
        f"m.truth_sha256 is not null as held from ({RECORDS_SQL}) r "
        f"left join {MATCHES} m on {_same_key('r', 'm')}"
    )
    new = con.execute(f"select distinct {keys} from _eval_records where not held").pl()
    con.register("_eval_matched", _match(new, truth_dir, sha).to_arrow())
    try:
        con.execute(f"insert into {MATCHES} by name select * from _eval_matched")
        # the records with their match: the stored one, else the one just made
        con.execute(
            "create or replace temp view _eval_judged as "
            "select customer_id, person_id, in_truth from _eval_records where held union all "
            "select r.customer_id, m.person_id, m.in_truth from _eval_records r "
            f"join _eval_matched m on {_same_key('r', 'm')} where not r.held"
        )
        n, judged, kept = con.execute(
            "select count(*), (select count(*) from _eval_judged), count(*) filter (held) "
            "from _eval_records"
        ).fetchone()
        if n != judged:  # one match per record, or the scores would be wrong
            raise RuntimeError(f"{MATCHES}: {judged} matches for {n} records")
        dropped = 0
        if stored - kept > STALE_SHARE * stored:  # the rows of records gone
            dropped = con.execute(
                f"delete from {MATCHES} m where not exists "
                f"(select 1 from _eval_records r where {_same_key('r', 'm')})"
            ).fetchone()[0]
        # a record with no customer is a cluster of its own (pairwise_scores)
        cells = con.execute(
            """
            select c, t, count(*) as n
            from (select coalesce(customer_id::varchar, '__single_' || row_number() over ())
                         as c, person_id as t
                  from _eval_judged where person_id is not null)
            group by all
            """
        ).pl()
        counts = con.execute(
            """
            select count(*), count(*) filter (in_truth), count(person_id),
                   count(*) filter (in_truth and person_id is null),
                   count(*) filter (in_truth and person_id is null and customer_id in
                       (select customer_id from _eval_judged where person_id is not null))
            from _eval_judged
            """
        ).fetchone()
    finally:
        con.execute("drop view if exists _eval_judged")
        con.execute("drop table if exists _eval_records")
        con.unregister("_eval_matched")
    names = ["records", "records_matched_to_truth", "records_with_person", "outsider_records",
             "outsider_records_with_a_known_person"]  # fmt: skip
    done = {
        "records_matched_now": matched + new.height,
        "truth_matches_reused": reused,
        "truth_matches_dropped": int(dropped),
    }
    return cell_scores(cells), {**dict(zip(names, map(int, counts), strict=True)), **done}


def known_records(records: pl.DataFrame, truth: pl.DataFrame) -> pl.DataFrame:
    """The records the pairwise scores count (a known person behind them): record (channel,
    entity and record_id joined as the resolver keys them), person_id, customer_id."""
    return (
        attach_truth(records, truth)
        .filter(pl.col("person_id").is_not_null())
        .select(
            pl.concat_str(["channel", "entity", "record_id"], separator=RECORD_SEP).alias("record"),
            "person_id",
            "customer_id",
        )
    )


def recall_breakdown(
    records: pl.DataFrame, truth: pl.DataFrame, ids: pl.DataFrame, blocked: pl.DataFrame
) -> pl.DataFrame:
    """Where recall is lost: each known person's records outside the person's largest
    customer (a *fragment*: one customer, or one record no identifier links), grouped by the
    identifier types the fragment holds (``masked phone`` for a partial phone) and whether
    one of them is blocked; with fragments, records and the missed pairs between each
    fragment and the rest of its person's records (pairs between two fragments count in
    both). ``records``: channel, entity, record_id, source_file, customer_id; ``ids``: the
    long identifiers (record, identifier_type, identifier_value, scope, is_partial);
    ``blocked``: scope, identifier_value of the blocked identifiers."""
    known = attach_truth(records, truth).filter(pl.col("person_id").is_not_null())
    known = known.with_columns(
        pl.concat_str(["channel", "entity", "record_id"], separator="\x1f").alias("record"),
    ).with_columns(pl.coalesce("customer_id", pl.lit("record:") + pl.col("record")).alias("c"))
    sizes = known.group_by("person_id", "c").agg(pl.len().alias("n"))
    main = sizes.sort(["person_id", "n", "c"], descending=[False, True, False]).unique(
        "person_id", keep="first"
    )
    total = known.group_by("person_id").len("person_records")
    frags = (
        sizes.join(main.select("person_id", "c"), on=["person_id", "c"], how="anti")
        .join(total, on="person_id")
        .with_columns((pl.col("n") * (pl.col("person_records") - pl.col("n"))).alias("pairs"))
    )
    # by scope and value: the blocked table names a type by its canonical name (member_no)
    # where a record may carry an alias (member_card)
    scope = pl.col("scope").fill_null("")
    flagged = ids.with_columns(scope.alias("_scope")).join(
        blocked.select(scope.alias("_scope"), "identifier_value")
        .unique()
        .with_columns(pl.lit(True).alias("blocked")),
        on=["_scope", "identifier_value"],
        how="left",
    )
    kinds = (
        known.select("record", "person_id", "c")
        .join(frags.select("person_id", "c"), on=["person_id", "c"])
        .join(flagged, on="record", how="left")
        .with_columns(
            pl.when(pl.col("is_partial") & (pl.col("identifier_type") == "phone"))
            .then(pl.lit("masked phone"))
            .otherwise(pl.col("identifier_type"))
            .alias("kind")
        )
        .group_by("person_id", "c")
        .agg(
            pl.col("kind").drop_nulls().unique().sort().str.join(" + ").alias("identifiers"),
            pl.col("blocked").fill_null(False).any().alias("has_blocked"),
        )
    )
    return (
        frags.join(kinds, on=["person_id", "c"], how="left")
        .group_by("identifiers", "has_blocked")
        .agg(pl.len().alias("fragments"), pl.col("n").sum().alias("records"), pl.col("pairs").sum())
        .sort("pairs", descending=True)
    )
