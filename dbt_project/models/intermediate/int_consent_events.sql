-- The consent ledger: every consent event of every channel (the CRM consent log, WeChat
-- mini-program authorisations, web cookie-banner choices), one row per event and identifier
-- it names, with the customer OneID gives that identifier. History is kept: nothing is
-- collapsed here; int_consent_state holds the latest state.
with consents as (
    select * from {{ ref('stg_lake__consents') }}
),

identifiers as (
    select
        channel,
        record_id,
        identifier_type,
        identifier_value,
        coalesce(scope, '') as scope
    from {{ ref('stg_lake__identifiers') }}
    where entity = 'consents' and not coalesce(is_partial, false)
),

owners as (
    select
        identifier_type,
        identifier_value,
        coalesce(scope, '') as scope,
        min(customer_id) as customer_id
    from {{ source('identity', 'customer_identifiers') }}
    where customer_id is not null and not coalesce(is_partial, false)
    group by 1, 2, 3
)

select
    c.channel,
    c.consent_id,
    c.consent_ts,
    c.business_date,
    c.purpose,
    c.granted,
    c.consent_source,
    i.identifier_type,
    i.identifier_value,
    nullif(i.scope, '') as scope,
    o.customer_id,
    c.source_file,
    c.source_row
from consents as c
left join identifiers as i
    on c.channel = i.channel and c.consent_id = i.record_id
left join owners as o
    on
        i.identifier_type = o.identifier_type
        and i.identifier_value = o.identifier_value
        and i.scope = o.scope
