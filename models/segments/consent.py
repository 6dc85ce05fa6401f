"""Consent at export time: each customer's status for a purpose, as the consent ledger gives
it (``intermediate.int_customer_consents``: the latest event per identifier and purpose, the
most restrictive across the customer's identifiers, propagated through OneID). One rule, in
dbt; this module only reads it. An identifier that belongs to nobody grants nothing.
"""

from __future__ import annotations

import polars as pl

from ingest.canonical import CONSENT_PURPOSES

# Destinations whose recipient holds the data outside mainland China, and where: PIPL (art. 39)
# asks for a separate consent before personal data leaves the country, so they need
# ``cross_border`` beside their own purpose. A new destination abroad is added here, nowhere
# else: the export, its manifest (``no_cross_border_consent``) and the privacy check read it.
DESTINATIONS_ABROAD = {"meta": "US", "google": "US", "amazon_ads": "US"}


def latest_consent(con, purpose: str) -> pl.DataFrame:
    """customer_id, granted: every customer whose status for ``purpose`` is known (granted
    true, revoked false)."""
    if purpose not in CONSENT_PURPOSES:
        raise ValueError(f"unknown consent purpose {purpose!r}; known: {CONSENT_PURPOSES}")
    return con.execute(
        f"SELECT customer_id, consent_{purpose} = 'granted' AS granted "
        f"FROM intermediate.int_customer_consents WHERE consent_{purpose} <> 'unknown' "
        "ORDER BY customer_id"
    ).pl()


def purposes_for(destination: str, purpose: str) -> list[str]:
    """Every purpose a destination needs: its own, and ``cross_border`` for overseas ones."""
    return [purpose, *(["cross_border"] if destination in DESTINATIONS_ABROAD else [])]
