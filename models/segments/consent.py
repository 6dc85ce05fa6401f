"""Consent at export time: for each customer and purpose, the latest consent event recorded on
any identifier that belongs to the customer.

Consent events (``staging.stg_lake__consents``) carry their identifier in the staged
identifiers of the consent record (``staging.stg_lake__identifiers``, entity ``consents``);
``identity.customer_identifiers`` says whose identifier it is. An identifier that belongs to
nobody (blocked as shared, or never resolved) grants nothing. When a grant and a revocation
share the same timestamp, the revocation wins.
"""

from __future__ import annotations

import polars as pl

CONSENT_SQL = """
WITH consent_identifiers AS (
    SELECT c.consent_ts, c.granted, c.consent_source, i.identifier_type, i.identifier_value,
           coalesce(i.scope, '') AS scope
    FROM staging.stg_lake__consents AS c
    JOIN staging.stg_lake__identifiers AS i
      ON i.entity = 'consents' AND i.channel = c.channel AND i.record_id = c.consent_id
    WHERE c.purpose = $purpose AND NOT coalesce(i.is_partial, false)
),
owned AS (
    SELECT ci.customer_id, k.consent_ts, k.granted, k.consent_source,
           k.identifier_type AS consent_identifier_type
    FROM consent_identifiers AS k
    JOIN identity.customer_identifiers AS ci
      ON ci.identifier_type = k.identifier_type AND ci.identifier_value = k.identifier_value
     AND coalesce(ci.scope, '') = k.scope
    WHERE ci.customer_id IS NOT NULL
)
SELECT customer_id, granted, consent_ts, consent_source, consent_identifier_type
FROM owned
QUALIFY row_number() OVER (
    PARTITION BY customer_id ORDER BY consent_ts DESC, granted ASC, consent_identifier_type
) = 1
"""


def latest_consent(con, purpose: str) -> pl.DataFrame:
    """customer_id, granted, consent_ts, consent_source, consent_identifier_type: the latest
    consent for ``purpose`` of every customer who has one."""
    return con.execute(CONSENT_SQL, {"purpose": purpose}).pl()
