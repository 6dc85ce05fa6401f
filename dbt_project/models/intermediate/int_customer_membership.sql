-- The CRM membership of each customer: the member record identity resolution gave the
-- customer (identity.record_customers, entity members). Identity rules allow one member_no per
-- person; should a customer still carry several, the active one joined last is kept.
with members as (
    select * from {{ ref('stg_lake__members') }}
),

record_customers as (
    select channel, record_id, customer_id
    from {{ source('identity', 'record_customers') }}
    where entity = 'members' and customer_id is not null
),

ranked as (
    select
        rc.customer_id,
        m.member_no,
        m.tier,
        m.status,
        m.points_balance,
        m.joined_ts,
        m.join_location_id,
        count(*) over (partition by rc.customer_id) as member_records,
        row_number() over (
            partition by rc.customer_id
            order by
                case when m.status = 'active' then 0 else 1 end,
                m.joined_ts desc nulls last,
                m.member_no
        ) as member_rank
    from members as m
    inner join record_customers as rc
        on m.channel = rc.channel and m.member_no = rc.record_id
)

select
    cast(customer_id as {{ dbt.type_string() }}) as customer_id,
    cast(member_no as {{ dbt.type_string() }}) as member_no,
    cast(tier as {{ dbt.type_string() }}) as member_tier,
    cast(status as {{ dbt.type_string() }}) as member_status,
    cast(points_balance as {{ dbt.type_bigint() }}) as crm_points_balance,
    cast(joined_ts as timestamp) as joined_at,
    cast(join_location_id as {{ dbt.type_string() }}) as join_location_id,
    cast(member_records as {{ dbt.type_bigint() }}) as member_records
from ranked
where member_rank = 1
