"""Recommendations: buy-again with each item's repurchase cycle, item-kNN discovery and
popular-in-segment, blended by a learned ranker; stock- and channel-aware serving; an honest
time-split evaluation against the baselines.

Framework-free; ``orchestration/defs/recs.py`` wraps it in assets and checks, and
``zhongtai recs evaluate`` runs the evaluation on any interactions table.

| module | does |
| --- | --- |
| ``data`` | any interactions table (Parquet/CSV) into user, item, ts (days), weight, with a report of dropped rows |
| ``model`` | the Zhongtai recommender: components (decayed profile, buy-again, BM25 item-kNN, popularity), candidates, ranker |
| ``evaluate`` | time split, baselines (popularity, buy-again, implicit ALS / item-kNN), the comparison, by user group, the ceiling |
| ``metrics`` | precision@k, recall@k, NDCG@k, coverage |
| ``store`` | the fitted ranker kept between runs (``data/models/recs/``), reused with each run's components, refitted weekly or when it cannot serve |
| ``serving`` | stock, assortment, durable and diversity rules |
| ``rescore`` | a new day's lists: the customers whose inputs changed scored again, the others' stored lists kept (``recs.list_inputs``, ``recs.list_runs``) |
| ``warehouse`` | reads the warehouse (with fallbacks), writes ``recs.*`` and the exports |
| ``report`` | metrics.csv, recommendations.parquet, report.md/html |
| ``cli`` | ``zhongtai recs evaluate`` |
"""
