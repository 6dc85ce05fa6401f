{{ config(alias='customer_identifiers') }}
-- Each customer's identifiers for marketers: the values masked by type.
select
    customer_id,
    identifier_type,
    scope,
    case
        when identifier_type = 'phone' then {{ mask_phone('identifier_value') }}
        when identifier_type = 'email' then {{ mask_email('identifier_value') }}
        else {{ mask_id('identifier_value') }}
    end as identifier_value,
    is_partial,
    link_tier,
    channels,
    first_seen,
    last_seen
from {{ ref('customer_identifiers') }}
