-- Every CRM member record with the customer identity resolution gave it
-- (identity.record_customers, entity members; null for a card no person owns, such as a
-- store's shared card) and its rank among the customer's member records: identity rules allow
-- one member_no per person, and should a customer still carry several, the active one joined
-- last ranks first.
with members as (
    select * from {{ ref('stg_lake__members') }}
),

record_customers as (
    select channel, record_id, customer_id
    from {{ source('identity', 'record_customers') }}
    where entity = 'members' and customer_id is not null
)

select
    cast(m.member_no as {{ dbt.type_string() }}) as member_no,
    cast(rc.customer_id as {{ dbt.type_string() }}) as customer_id,
    cast(m.tier as {{ dbt.type_string() }}) as member_tier,
    cast(m.status as {{ dbt.type_string() }}) as member_status,
    cast(m.points_balance as {{ dbt.type_bigint() }}) as crm_points_balance,
    cast(m.joined_ts as timestamp) as joined_at,
    cast(m.join_location_id as {{ dbt.type_string() }}) as join_location_id,
    cast(count(rc.customer_id) over (partition by rc.customer_id) as {{ dbt.type_bigint() }})
        as member_records,
    cast(
        row_number() over (
            partition by coalesce(rc.customer_id, m.member_no)
            order by
                case when m.status = 'active' then 0 else 1 end,
                m.joined_ts desc nulls last,
                m.member_no
        ) as {{ dbt.type_bigint() }}
    ) as member_rank
from members as m
left join record_customers as rc
    on m.channel = rc.channel and m.member_no = rc.record_id
