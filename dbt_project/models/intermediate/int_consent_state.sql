-- The current consent state per identifier and purpose: the latest event of the ledger
-- (int_consent_events); on a tie, the revocation. Events that name no identifier state
-- nothing. customer_id: the customer OneID gives the identifier (null: nobody's).
with events as (
    select * from {{ ref('int_consent_events') }}
    where identifier_value is not null and granted is not null
),

ranked as (
    select
        *,
        row_number() over (
            partition by identifier_type, identifier_value, coalesce(scope, ''), purpose
            order by consent_ts desc, case when granted then 1 else 0 end, consent_id desc
        ) as recency_rank
    from events
)

select
    identifier_type,
    identifier_value,
    scope,
    purpose,
    customer_id,
    cast(case when granted then 'granted' else 'revoked' end as {{ dbt.type_string() }}) as status,
    consent_ts as status_since,
    channel,
    consent_id,
    consent_source
from ranked
where recency_rank = 1
