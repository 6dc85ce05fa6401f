"""Identity resolution (OneID): which records and identifiers are one customer.

Framework-free; ``orchestration/defs/identity.py`` wraps it in an asset and a check, and
``zhongtai identity resolve`` runs it on any table of records.

| module | does |
| --- | --- |
| ``rules`` | ``profiles/identity.yml`` validated: strength, priority, limits, scopes, roll-ups, blocklist |
| ``graph`` | typed identifier nodes, blocked identifiers (blocklist, shared) with reasons, the links |
| ``cluster`` | constrained clustering: scipy components, ordered union-find where a limit breaks |
| ``stable_ids`` | customer ids that survive runs; merges, splits and retirements recorded |
| ``resolve`` | the whole run on a long identifiers table, and the tables it produces |
| ``records`` | a wide table of records: identifier columns plus Splink on fuzzy attributes |
| ``metrics`` | pairwise precision/recall/F1 by pair counting |
| ``warehouse`` | read staging (or the lake), write the ``identity`` schema |
| ``evaluate`` | accuracy against the demo brand's truth |
"""
