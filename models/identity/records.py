"""Resolve any table of records: the engine behind ``zhongtai identity resolve``.

Input: one row per record with a ``record_id`` column, any identifier columns named like the
identifier types (``email``, ``phone``, ``member_no``, ``device_id``, ``wechat_unionid`` or
``unionid``, ``wechat_openid`` or ``openid``, …) and optional fuzzy attributes (given_name,
surname, full_name, address, street_number, postcode, city, suburb, state, date_of_birth,
gender, soc_sec_id, …). Other columns are ignored (and listed).

1. Identifier columns are normalised by ``ingest.identifiers.normalize_id`` and linked
   deterministically by the same rules and graph code as the warehouse (blocklist, partial
   values, shared identifiers, per-type limits).
2. When fuzzy attributes are present, Splink (DuckDB backend, offline) links records
   probabilistically: blocking rules on the attributes (each kept only while its number of
   comparisons is reasonable), u estimated by random sampling, m by expectation maximisation,
   and pairs at or above the match-probability threshold become the last tier of links (they
   still obey the limits).

Output: record_id, cluster_id, match_weight (the strongest accepted probabilistic link of the
record, null where deterministic links or nothing decided its cluster).
"""

from __future__ import annotations

import json
import logging
import re
import time
from dataclasses import dataclass, field

import polars as pl

from ingest.identifiers import IDENTIFIER_TYPES, clean_text, normalize_id
from models.identity.metrics import PairScores, pairwise_scores
from models.identity.resolve import resolve
from models.identity.rules import Rules

# Column names understood as identifier types beside the types themselves
ID_ALIASES = {
    "unionid": "wechat_unionid",
    "openid": "wechat_openid",
    "external_userid": "wecom_external_userid",
    "mobile": "phone",
    "phone_number": "phone",
    "telephone": "phone",
    "e_mail": "email",
    "email_address": "email",
    "card_no": "member_card",
}

# Fuzzy attributes: column name -> kind of comparison
FUZZY_KINDS = {
    "given_name": "forename",
    "first_name": "forename",
    "forename": "forename",
    "surname": "surname",
    "last_name": "surname",
    "family_name": "surname",
    "full_name": "name",
    "name": "name",
    "middle_name": "name",
    "address": "address",
    "address_1": "address",
    "address_2": "address",
    "street": "address",
    "street_address": "address",
    "street_number": "number",
    "house_number": "number",
    "postcode": "postcode",
    "postal_code": "postcode",
    "zip": "postcode",
    "zipcode": "postcode",
    "city": "place",
    "suburb": "place",
    "town": "place",
    "county": "place",
    "state": "region",
    "country": "region",
    "date_of_birth": "date",
    "dob": "date",
    "birth_date": "date",
    "birthday": "date",
    "gender": "exact",
    "sex": "exact",
    "soc_sec_id": "id",
    "ssn": "id",
    "national_id": "id",
}

# Blocking candidates for predictions, most selective first; each kept while its number of
# comparisons fits the budget
_BLOCK_CANDIDATES = [
    ("date",),
    ("id",),
    ("postcode",),
    ("forename", "surname"),
    ("name",),
    ("surname", "place"),
    ("forename", "place"),
    ("address",),
]
# Blocking for EM sessions: person attributes only. Place attributes (postcode, city,
# street) agree with each other for neighbours, and EM blocked on one of them learns
# "same area" instead of "same person".
_EM_CANDIDATES = [("date",), ("forename", "surname"), ("name",), ("id",), ("postcode",)]

log = logging.getLogger(__name__)
U_MAX_PAIRS = 1e6  # record pairs sampled to estimate u (Splink suggests 1e7+ on large data)


@dataclass
class RecordResolution:
    clusters: pl.DataFrame  # record_id, cluster_id, match_weight
    identifier_columns: dict[str, str]
    fuzzy_columns: dict[str, str]
    ignored_columns: list[str]
    probabilistic_links: int = 0
    scores: PairScores | None = None
    notes: list[str] = field(default_factory=list)
    seconds: dict = field(default_factory=dict)

    @property
    def n_clusters(self) -> int:
        return int(self.clusters["cluster_id"].n_unique())


def classify_columns(
    columns: list[str], rules: Rules, truth: str | None = None
) -> tuple[dict[str, str], dict[str, str], list[str]]:
    """(identifier column -> type, fuzzy column -> kind, ignored columns)."""
    known_types = set(rules.canonical_type) & set(IDENTIFIER_TYPES)
    ids, fuzzy, ignored = {}, {}, []
    for col in columns:
        if col in ("record_id", truth):
            continue
        key = col.strip().lower()
        if key in known_types:
            ids[col] = key
        elif key in ID_ALIASES and ID_ALIASES[key] in known_types:
            ids[col] = ID_ALIASES[key]
        elif key in FUZZY_KINDS:
            fuzzy[col] = FUZZY_KINDS[key]
        else:
            ignored.append(col)
    return ids, fuzzy, ignored


def long_identifiers(
    frame: pl.DataFrame, id_columns: dict[str, str], region: str = "CN"
) -> pl.DataFrame:
    """record, identifier_type, identifier_value, is_partial: every identifier cell,
    normalised by ``ingest.identifiers.normalize_id`` (cells it rejects are dropped)."""
    parts = []
    for col, id_type in id_columns.items():
        raw = frame.select(
            pl.col("record_id").alias("record"), pl.col(col).cast(pl.String).alias("raw")
        ).filter(pl.col("raw").is_not_null())
        lookup_v, lookup_p = {}, {}
        for value in raw["raw"].unique().to_list():
            ident = normalize_id(id_type, value, region)
            if ident is not None:
                lookup_v[value] = ident.value
                lookup_p[value] = ident.is_partial
        raw = raw.filter(pl.col("raw").is_in(list(lookup_v)))
        parts.append(
            raw.select(
                "record",
                pl.lit(id_type).alias("identifier_type"),
                pl.col("raw")
                .replace_strict(lookup_v, return_dtype=pl.String)
                .alias("identifier_value"),
                pl.col("raw").replace_strict(lookup_p, return_dtype=pl.Boolean).alias("is_partial"),
            )
        )
    schema = {
        "record": pl.String,
        "identifier_type": pl.String,
        "identifier_value": pl.String,
        "is_partial": pl.Boolean,
    }
    return pl.concat(parts) if parts else pl.DataFrame(schema=schema)


def _clean_frame(frame: pl.DataFrame, fuzzy: dict[str, str]) -> pl.DataFrame:
    """Fuzzy attributes for comparison: width folded, lower case, single spaces; dates keep
    their digits (19560909 and 1956-09-09 compare equal), codes lose spaces and dashes;
    empty is null."""
    out = {"unique_id": frame["record_id"]}
    for col, kind in fuzzy.items():
        values = frame[col].cast(pl.String)
        uniq = values.unique().drop_nulls().to_list()
        mapping = {}
        for v in uniq:
            text = clean_text(v)
            if text is None:
                continue
            text = text.lower()
            if kind == "date":
                text = re.sub(r"\D", "", text)
            elif kind in ("postcode", "number", "id"):
                text = re.sub(r"[\s\-./]", "", text)
            mapping[v] = text or None
        out[col] = values.replace_strict(mapping, default=None, return_dtype=pl.String)
    return pl.DataFrame(out)


WHERE = "_where_address"  # derived: street number and address lines in one text


def _with_where(data: pl.DataFrame, fuzzy: dict[str, str]) -> pl.DataFrame:
    parts = [c for c, k in fuzzy.items() if k == "number"] + [
        c for c, k in fuzzy.items() if k == "address"
    ]
    if not parts:
        return data
    joined = pl.concat_str([pl.col(c) for c in parts], separator=" ", ignore_nulls=True)
    return data.with_columns(pl.when(joined != "").then(joined).alias(WHERE))


def _where_comparison(data: pl.DataFrame, fuzzy: dict[str, str]):
    """Where a person lives, as one comparison: the street address, postcode, place and
    region agree together for people of one household or street, so counting each apart
    would add the same evidence several times and merge neighbours."""
    import splink.comparison_level_library as cll
    import splink.comparison_library as cl

    first = {}
    for col, kind in fuzzy.items():
        first.setdefault(kind, col)
    a = WHERE if WHERE in data.columns else None
    p, c, r = first.get("postcode"), first.get("place"), first.get("region")
    present = [x for x in (a, p, c, r) if x]
    if not present:
        return None, []
    area_exact = [cll.ExactMatchLevel(x) for x in (p, c) if x]
    area_close = ([cll.DamerauLevenshteinLevel(p, 1)] if p else []) + (
        [cll.JaroWinklerLevel(c, 0.9)] if c else []
    )

    def both(*levels):
        levels = [lv for lv in levels if lv is not None]
        return levels[0] if len(levels) == 1 else cll.And(*levels)

    def either(levels):
        return levels[0] if len(levels) == 1 else cll.Or(*levels)

    levels = [
        cll.And(*[cll.NullLevel(x) for x in present])
        if len(present) > 1
        else cll.NullLevel(present[0])
    ]
    if a:
        if area_exact:
            levels.append(both(cll.ExactMatchLevel(a), *area_exact))
            levels.append(both(cll.DamerauLevenshteinLevel(a, 2), either(area_close)))
        levels += [
            # a common address (a street of many households, a whole district) says less
            # than a rare one: Splink's term-frequency adjustment weighs the agreement
            cll.ExactMatchLevel(a, term_frequency_adjustments=True),
            cll.DamerauLevenshteinLevel(a, 2),
            cll.JaroWinklerLevel(a, 0.9),
        ]
    if area_exact:
        if len(area_exact) > 1:
            levels.append(both(*area_exact))
        levels.append(either(area_exact))
        levels.append(either(area_close))
    if r:
        levels.append(cll.ExactMatchLevel(r))
    levels.append(cll.ElseLevel())
    return (
        cl.CustomComparison(
            comparison_levels=levels,
            output_column_name="where",
            comparison_description="street address, postcode, place and region together",
        ),
        [x for x in present if x != WHERE]
        + [x for c2, k in fuzzy.items() if k in ("number", "address") for x in [c2]],
    )


def _comparisons(data: pl.DataFrame, fuzzy: dict[str, str]) -> list:
    """One comparison per person attribute; forename and surname together (swaps count);
    every location attribute in one (see _where_comparison)."""
    import splink.comparison_library as cl

    by_kind: dict[str, list[str]] = {}
    for col, kind in fuzzy.items():
        by_kind.setdefault(kind, []).append(col)
    comps = []
    used: set[str] = set()
    fore, sur = by_kind.get("forename", []), by_kind.get("surname", [])
    if fore and sur:
        comps.append(cl.ForenameSurnameComparison(fore[0], sur[0]))
        used |= {fore[0], sur[0]}
    where, where_cols = _where_comparison(data, fuzzy)
    if where is not None:
        comps.append(where)
        used |= set(where_cols)
    for col, kind in fuzzy.items():
        if col in used or kind in ("number", "address", "postcode", "place", "region"):
            continue
        if kind in ("forename", "surname", "name"):
            comps.append(cl.NameComparison(col))
        elif kind == "date":
            comps.append(cl.DamerauLevenshteinAtThresholds(col, [1, 2]))
        elif kind == "id":
            comps.append(cl.DamerauLevenshteinAtThresholds(col, [1]))
        else:
            comps.append(cl.ExactMatch(col))
    return comps


def _pairs_in_blocks(frame: pl.DataFrame, cols: list[str]) -> int:
    sizes = frame.drop_nulls(cols).group_by(cols).len()
    n = sizes["len"].cast(pl.Int64)
    return int((n * (n - 1) // 2).sum())


def _blocking_rules(frame: pl.DataFrame, fuzzy: dict[str, str], budget: int) -> list[list[str]]:
    """Equality blocking rules on the attributes: every single-kind candidate on each of its
    columns, kept while its comparisons fit the budget."""
    by_kind: dict[str, list[str]] = {}
    for col, kind in fuzzy.items():
        by_kind.setdefault(kind, []).append(col)
    rules = []
    for kinds in _BLOCK_CANDIDATES:
        if not all(k in by_kind for k in kinds):
            continue
        options = [[]]
        for k in kinds:
            options = [o + [c] for o in options for c in by_kind[k][:2]]
        for cols in options:
            if _pairs_in_blocks(frame, cols) <= budget:
                rules.append(cols)
    return rules


def probabilistic_links(
    frame: pl.DataFrame,
    fuzzy: dict[str, str],
    threshold: float = 0.9,
    seed: int = 42,
    notes: list[str] | None = None,
    strict: list[list[str]] | None = None,
    model: dict | None = None,
    used: dict | None = None,
    agree: list[str] | None = None,
) -> pl.DataFrame:
    """Pairs of records (record_l, record_r, match_weight, match_probability) that Splink
    scores at or above ``threshold``. ``strict``: equality rules (lists of columns) nearly
    free of false matches, for the prior; default: agreement on three or more attributes.

    ``agree``: columns on which the caller keeps only pairs that agree (equal, not null):
    the blocking rules are chosen as without it, then each is narrowed to pairs that also
    agree on them (``narrowed``), so only pairs the caller keeps are compared; a pair's
    score does not depend on the rule that found it (the term frequencies are the whole
    frame's), so the pairs returned are those without ``agree`` that agree on them.

    ``model``: a trained Splink model (the settings ``linker.misc.save_model_to_json``
    returns) to predict with instead of training on ``frame``, when its comparisons are the
    ones this data builds (``model_mismatch``; otherwise it trains). ``used`` (a dict, filled
    in): ``trained`` (True or False), ``model`` (the model predicted with) and ``mismatch``
    (why ``model`` was not used); left empty when nothing was scored."""
    notes = notes if notes is not None else []
    used = used if used is not None else {}
    schema = {
        "record_l": pl.String,
        "record_r": pl.String,
        "match_weight": pl.Float64,
        "match_probability": pl.Float64,
    }
    data = _clean_frame(frame, fuzzy)
    filled = {c: k for c, k in fuzzy.items() if data[c].null_count() < data.height}
    data = _with_where(data, filled)
    if not filled or data.height < 2:
        return pl.DataFrame(schema=schema)
    n = data.height
    budget = max(2_000_000, 40 * n)
    rules = _blocking_rules(data, filled, budget)
    if not rules:
        notes.append("no blocking rule fits the comparison budget: no probabilistic links")
        return pl.DataFrame(schema=schema)
    if agree:
        rules = narrowed(rules, [c for c in agree if c in filled])
    notes.append("blocking on " + " | ".join("+".join(r) for r in rules))
    quiet = logging.getLogger("splink")
    level = quiet.level
    quiet.setLevel(logging.ERROR)  # Splink narrates every step at INFO and WARNING
    try:
        strict = strict if strict is not None else _strict_rules(filled)
        return _splink_links(
            data, filled, rules, threshold, seed, budget, notes, strict, model, used
        )
    finally:
        quiet.setLevel(level)


def narrowed(rules: list[list[str]], agree: list[str]) -> list[list[str]]:
    """Each blocking rule with the columns of ``agree`` added; a rule whose columns hold
    another's is left out (every pair it finds, that one finds). The union of the pairs
    found is the union of ``rules``' pairs that agree on ``agree``."""
    wide = [[*r, *(c for c in agree if c not in r)] for r in rules]
    return [
        cols
        for i, cols in enumerate(wide)
        if not any(
            set(other) < set(cols) or (set(other) == set(cols) and j < i)
            for j, other in enumerate(wide)
            if j != i
        )
    ]


def _splink_links(
    data: pl.DataFrame,
    filled: dict[str, str],
    rules: list[list[str]],
    threshold: float,
    seed: int,
    budget: int,
    notes: list[str],
    strict: list[list[str]],
    model: dict | None,
    used: dict,
) -> pl.DataFrame:
    from splink import DuckDBAPI, Linker, SettingsCreator, block_on

    schema = {
        "record_l": pl.String,
        "record_r": pl.String,
        "match_weight": pl.Float64,
        "match_probability": pl.Float64,
    }

    def settings():
        return SettingsCreator(
            link_type="dedupe_only",
            unique_id_column_name="unique_id",
            comparisons=_comparisons(data, filled),
            blocking_rules_to_generate_predictions=[block_on(*r) for r in rules],
            retain_intermediate_calculation_columns=False,
            retain_matching_columns=False,
        )

    db = DuckDBAPI()
    sdf = db.register(data.to_arrow(), dataset_display_name="records")
    linker = None
    if model is not None:
        fresh = settings().get_settings(db.sql_dialect.sql_dialect_str).as_dict()
        why = model_mismatch(model, fresh)
        if why is None:
            # the trained m, u and prior; this data's blocking rules (each fits its budget)
            blocking = fresh["blocking_rules_to_generate_predictions"]
            reused = {k: v for k, v in model.items() if k != TERM_FREQUENCIES}
            reused["blocking_rules_to_generate_predictions"] = blocking
            linker = Linker(sdf, reused, log_level=logging.ERROR)
            for col, table in model[TERM_FREQUENCIES].items():
                frame = pl.DataFrame(
                    table, schema={col: pl.String, f"tf_{col}": pl.Float64}, orient="row"
                )
                linker.table_management.register_term_frequency_lookup(
                    db.register(frame.to_arrow(), dataset_display_name=f"tf_{col}"), col
                )
            used["trained"] = False
            notes.append("trained model reused (no training)")
        else:
            used["mismatch"] = why
    if linker is None:
        linker = Linker(sdf, settings(), log_level=logging.ERROR)
        _train(linker, data, filled, seed, budget, notes, strict)
        used["trained"] = True
    used["model"] = {
        **linker.misc.save_model_to_json(),
        TERM_FREQUENCIES: model[TERM_FREQUENCIES]
        if not used["trained"]
        else _term_frequencies(linker),
    }
    pred = linker.inference.predict(threshold_match_probability=threshold)
    out = pred.as_duckdbpyrelation().pl()  # (from_arrow fails on an empty prediction)
    if out.is_empty():
        return pl.DataFrame(schema=schema)
    return out.select(
        pl.col("unique_id_l").cast(pl.String).alias("record_l"),
        pl.col("unique_id_r").cast(pl.String).alias("record_r"),
        pl.col("match_weight").cast(pl.Float64),
        pl.col("match_probability").cast(pl.Float64),
    )


_TRAINED = ("m_probability", "u_probability")
# The term frequencies of a trained model's data, kept with the model: a model predicts with
# the frequencies it was trained with (values it never saw get no adjustment), so a record's
# weights do not move when other records arrive (models/identity/store.py)
TERM_FREQUENCIES = "zhongtai_term_frequencies"


def _tf_columns(settings: dict) -> list[str]:
    return sorted(
        {
            level["tf_adjustment_column"]
            for c in settings.get("comparisons", [])
            for level in c.get("comparison_levels", [])
            if level.get("tf_adjustment_column")
        }
    )


def _term_frequencies(linker) -> dict[str, list[list]]:
    """column -> [[value, term frequency], ...] over the linker's data (Splink's tables)."""
    out = {}
    for col in _tf_columns(linker.misc.save_model_to_json()):
        tf = linker.table_management.compute_tf_table(col).as_duckdbpyrelation().pl()
        out[col] = sorted([[v, float(f)] for v, f in tf.select(col, f"tf_{col}").iter_rows()])
    return out


def _shape(settings: dict) -> list:
    """The comparisons of a Splink settings dict without what training sets (m and u)."""
    return [
        {
            **c,
            "comparison_levels": [
                {k: v for k, v in level.items() if k not in _TRAINED}
                for level in c.get("comparison_levels", [])
            ],
        }
        for c in settings.get("comparisons", [])
    ]


def model_mismatch(model: dict, fresh: dict) -> str | None:
    """Why the trained ``model`` cannot score data whose untrained settings are ``fresh``
    (other comparisons: a column filled or emptied, another kind, changed code), else None."""
    if not isinstance(model, dict) or not isinstance(model.get("comparisons"), list):
        return "the stored model has no comparisons"
    if not isinstance(model.get(TERM_FREQUENCIES), dict):
        return "the stored model keeps no term frequencies (an older store)"
    if model.get("link_type") != fresh.get("link_type"):
        return f"link type {model.get('link_type')!r}, this data {fresh.get('link_type')!r}"
    have, want = _shape(json.loads(json.dumps(model))), _shape(json.loads(json.dumps(fresh)))
    if have != want:
        names_have = [c.get("output_column_name") for c in have]
        names_want = [c.get("output_column_name") for c in want]
        if names_have != names_want:
            return f"comparisons changed: the model has {names_have}, this data {names_want}"
        return "comparisons changed: same columns, other levels"
    return None


def _train(linker, data, filled, seed, budget, notes, strict) -> None:
    """The prior, u by random sampling and m by the EM sessions, on ``data``."""
    from splink import block_on

    n = data.height
    # prior: strict agreement on several attributes, assumed to find 60% of true pairs
    if strict:
        try:
            linker.training.estimate_probability_two_random_records_match(
                [block_on(*r) for r in strict], recall=0.6
            )
        except Exception as exc:  # too few strict matches to estimate: keep the default
            notes.append(f"prior kept at Splink's default ({exc.__class__.__name__})")
    pairs_total = n * (n - 1) / 2
    linker.training.estimate_u_using_random_sampling(
        max_pairs=min(U_MAX_PAIRS, max(pairs_total, 1.0)), seed=seed, num_chunks=3
    )
    trained = 0
    for cols in _em_rules(data, filled, budget):
        try:
            linker.training.estimate_parameters_using_expectation_maximisation(
                block_on(*cols), max_pairs=budget
            )
            trained += 1
        except Exception as exc:  # a session with no comparisons, or that cannot converge
            notes.append(f"EM on {'+'.join(cols)} skipped ({exc.__class__.__name__})")
    notes.append(f"EM sessions: {trained}")


def _strict_rules(fuzzy: dict[str, str]) -> list[list[str]]:
    """Rules agreeing on three or more attributes: nearly no false matches."""
    cols = list(fuzzy)
    if len(cols) < 3:
        return []
    by_kind: dict[str, str] = {}
    for c, k in fuzzy.items():
        by_kind.setdefault(k, c)
    names = [by_kind[k] for k in ("forename", "surname", "name") if k in by_kind]
    others = [by_kind[k] for k in ("date", "id", "postcode", "address") if k in by_kind]
    rules = []
    if len(names) >= 2 and others:
        rules += [[*names[:2], o] for o in others]
    elif names and len(others) >= 2:
        rules.append([names[0], *others[:2]])
    elif len(others) >= 3:
        rules.append(others[:3])
    return rules


def _em_rules(frame: pl.DataFrame, fuzzy: dict[str, str], budget: int) -> list[list[str]]:
    """EM sessions: each blocks on person attributes and estimates the others; together
    they estimate every comparison at least once (a session's blocked pairs are sampled down
    to the budget)."""
    by_kind: dict[str, list[str]] = {}
    for col, kind in fuzzy.items():
        by_kind.setdefault(kind, []).append(col)
    chosen, covered = [], set()
    for kinds in _EM_CANDIDATES:
        if not all(k in by_kind for k in kinds):
            continue
        cols = [by_kind[k][0] for k in kinds]
        if frame.drop_nulls(cols).height < 2:
            continue
        rest = set(fuzzy) - set(cols)
        if rest - covered:
            chosen.append(cols)
            covered |= rest
        if covered == set(fuzzy):
            break
    return chosen


def resolve_records(
    frame: pl.DataFrame,
    rules: Rules,
    threshold: float = 0.9,
    truth: str | None = None,
    region: str = "CN",
    seed: int = 42,
) -> RecordResolution:
    """Cluster the records of ``frame`` (see the module docstring)."""
    t0 = time.perf_counter()
    if "record_id" not in frame.columns:
        raise ValueError(f"the input has no 'record_id' column (columns: {frame.columns})")
    if truth is not None and truth not in frame.columns:
        raise ValueError(f"truth column {truth!r} is not in the input (columns: {frame.columns})")
    frame = frame.with_columns(pl.col("record_id").cast(pl.String))
    if frame["record_id"].null_count():
        raise ValueError("record_id has empty values")
    dup = frame["record_id"].is_duplicated()
    if dup.any():
        raise ValueError(
            f"record_id is not unique: {frame.filter(dup)['record_id'].unique().head(5).to_list()}"
        )
    id_cols, fuzzy, ignored = classify_columns(frame.columns, rules, truth)
    notes: list[str] = []
    ids = long_identifiers(frame, id_cols, region)
    t1 = time.perf_counter()
    links = None
    if fuzzy:
        links = probabilistic_links(frame, fuzzy, threshold, seed, notes)
    t2 = time.perf_counter()
    res = resolve(
        ids,
        rules,
        all_records=frame["record_id"],
        record_links=links,
        records_anchor_ids=True,
    )
    clusters = res.records.select(pl.col("record").alias("record_id"), "customer_id")
    weights = _record_weights(links, clusters) if links is not None else None
    out = frame.select("record_id").join(clusters, on="record_id", how="left")
    out = out.rename({"customer_id": "cluster_id"})
    if weights is not None:
        out = out.join(weights, on="record_id", how="left")
    else:
        out = out.with_columns(pl.lit(None, dtype=pl.Float64).alias("match_weight"))
    t3 = time.perf_counter()
    scores = None
    if truth is not None:
        scores = pairwise_scores(
            out.join(frame.select("record_id", pl.col(truth).alias("_truth")), on="record_id"),
            cluster="cluster_id",
            truth="_truth",
        )
    return RecordResolution(
        clusters=out,
        identifier_columns=id_cols,
        fuzzy_columns=fuzzy,
        ignored_columns=ignored,
        probabilistic_links=0 if links is None else links.height,
        scores=scores,
        notes=notes,
        seconds={
            "identifiers": round(t1 - t0, 2),
            "probabilistic": round(t2 - t1, 2),
            "clustering": round(t3 - t2, 2),
        },
    )


def _record_weights(links: pl.DataFrame, clusters: pl.DataFrame) -> pl.DataFrame:
    """Per record: the strongest probabilistic link to a record that ended in its cluster."""
    if links.is_empty():
        return pl.DataFrame(schema={"record_id": pl.String, "match_weight": pl.Float64})
    c = clusters.select("record_id", "customer_id")
    kept = (
        links.join(c.rename({"record_id": "record_l", "customer_id": "c_l"}), on="record_l")
        .join(c.rename({"record_id": "record_r", "customer_id": "c_r"}), on="record_r")
        .filter(pl.col("c_l") == pl.col("c_r"))
    )
    both = pl.concat(
        [
            kept.select(pl.col("record_l").alias("record_id"), "match_weight"),
            kept.select(pl.col("record_r").alias("record_id"), "match_weight"),
        ]
    )
    return both.group_by("record_id").agg(pl.col("match_weight").max())


__all__ = ["RecordResolution", "classify_columns", "long_identifiers", "resolve_records"]
