"""Privacy (PIPL / GDPR): erasure that reaches every layer, access requests, retention.

| module | what |
| --- | --- |
| ``subject`` | a data subject: ``TYPE:VALUE`` resolved through OneID to every identifier, customer id and tied record, and the text patterns that find them in files |
| ``erase`` | ``zhongtai privacy erase``: lake, landing, warehouse (all schemas), exports and docs scrubbed; tombstones (``ingest.tombstones``); the audit table |
| ``access`` | ``zhongtai privacy export``: everything held about a person as JSON |
| ``retention`` | raw clickstream older than ``profiles/privacy.yml`` allows purged from the lake, daily aggregates kept |
| ``config`` | ``profiles/privacy.yml`` |
"""
