-- Every identifier the platform has seen, for readers outside the identity schema: the ones
-- identity resolution put on a customer (status 'linked', or 'partial' for masked values kept
-- on each customer that carries them as evidence) and the ones it blocked as junk or shared
-- (status 'blocked', customer_id null, with the reason). Type, scope (store, app, platform),
-- the channels it was seen on, records, first and last seen, as identity.customer_identifiers
-- and identity.blocked_identifiers record them, with the tier of the link that put a linked
-- identifier on its customer (deterministic, or probabilistic with its Splink match weight) so
-- that an export can choose the tier it accepts.
with linked as (
    select
        customer_id,
        identifier_type,
        scope,
        identifier_value,
        is_partial,
        strength,
        priority,
        records,
        channels,
        first_seen,
        last_seen,
        case when is_partial then 'partial' else 'linked' end as status,
        link_tier,
        match_weight,
        cast(null as {{ dbt.type_string() }}) as blocked_reason
    from {{ source('identity', 'customer_identifiers') }}
    where customer_id is not null
),

blocked as (
    select
        cast(null as {{ dbt.type_string() }}) as customer_id,
        identifier_type,
        scope,
        identifier_value,
        false as is_partial,
        cast(null as {{ dbt.type_string() }}) as strength,
        cast(null as {{ dbt.type_bigint() }}) as priority,
        records,
        cast(null as {{ dbt.type_string() }}) as channels,
        first_seen,
        last_seen,
        'blocked' as status,
        cast(null as {{ dbt.type_string() }}) as link_tier,
        cast(null as {{ dbt.type_float() }}) as match_weight,
        reason as blocked_reason
    from {{ source('identity', 'blocked_identifiers') }}
),

all_identifiers as (
    select * from linked
    union all
    select * from blocked
)

select
    cast({{ dbt.concat([
        "coalesce(customer_id, 'BLOCKED')", "'|'", "identifier_type", "'|'",
        "coalesce(scope, '')", "'|'", "identifier_value"
    ]) }} as {{ dbt.type_string() }}) as customer_identifier_id,
    cast(customer_id as {{ dbt.type_string() }}) as customer_id,
    cast(identifier_type as {{ dbt.type_string() }}) as identifier_type,
    cast(nullif(scope, '') as {{ dbt.type_string() }}) as scope,
    cast(identifier_value as {{ dbt.type_string() }}) as identifier_value,
    cast(status as {{ dbt.type_string() }}) as status,
    cast(is_partial as boolean) as is_partial,
    cast(strength as {{ dbt.type_string() }}) as strength,
    cast(priority as {{ dbt.type_bigint() }}) as priority,
    cast(records as {{ dbt.type_bigint() }}) as records,
    cast(channels as {{ dbt.type_string() }}) as channels,
    cast(first_seen as timestamp) as first_seen,
    cast(last_seen as timestamp) as last_seen,
    cast(link_tier as {{ dbt.type_string() }}) as link_tier,
    cast(match_weight as double) as match_weight,
    cast(blocked_reason as {{ dbt.type_string() }}) as blocked_reason
from all_identifiers
