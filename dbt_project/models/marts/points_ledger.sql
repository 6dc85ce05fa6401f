-- The unified points ledger: every CRM points transaction (earn, redeem, bonus), each checked
-- against the programme's rules per channel (seed points_rules), plus the points a member's
-- order on any channel should have earned but the CRM never recorded (source 'rule').
-- Members' orders come through OneID: a Tmall or Douyin order counts for the member that
-- identity resolution put on the same customer_id, from the day they joined.
-- Expected earn: floor(order net amount in CNY x points_per_cny) for a real order (not a
-- test, not a brushing suspect; paid, shipped or completed) on an earning channel. A CRM row
-- names its order by the channel's order number; store receipts are keyed by store and
-- receipt number in the lake, so a store row matches '<store_id> <receipt>'.
with rules as (
    select * from {{ ref('points_rules') }}
),

members as (
    select * from {{ ref('int_member_customers') }}
),

orders as (
    select o.*
    from {{ ref('fct_orders') }} as o
    where {{ is_real_order('o') }}
),

crm as (
    select
        points_txn_id,
        member_no,
        txn_ts,
        business_date,
        case reason
            when 'EARN' then 'earn'
            when 'REDEEM' then 'redeem'
            else 'bonus'
        end as txn_type,
        reason as crm_reason,
        points,
        sales_channel,
        order_id as order_ref,
        location_id
    from {{ ref('stg_lake__points') }}
),

crm_with_order as (
    -- two equality joins (an OR in one join condition would compare every pair of rows)
    select
        c.*,
        coalesce(o.order_id, s.order_id) as order_id,
        coalesce(o.net_amount_cny, s.net_amount_cny) as net_amount_cny
    from crm as c
    left join orders as o
        on c.sales_channel = o.channel and c.order_ref = o.order_id
    left join orders as s
        on c.sales_channel = s.channel
        and {{ dbt.concat(["c.location_id", "' '", "c.order_ref"]) }} = s.order_id
),

crm_rows as (
    select
        {{ dbt.concat(["'crm:'", "c.points_txn_id"]) }} as ledger_entry_id,
        'crm' as source,
        c.points_txn_id,
        c.member_no,
        m.customer_id,
        c.txn_ts,
        c.business_date as txn_date,
        c.txn_type,
        c.crm_reason,
        c.sales_channel as channel,
        coalesce(c.order_id, c.order_ref) as order_id,
        c.points,
        case
            when c.txn_type = 'earn' and c.order_id is not null and r.earns
                then floor(c.net_amount_cny * r.points_per_cny)
            when c.txn_type = 'earn' then null
            else c.points
        end as expected_points,
        case
            when c.txn_type = 'earn' and c.order_id is null then 'order_not_found'
            when c.txn_type = 'earn' and not coalesce(r.earns, false) then 'channel_does_not_earn'
            when c.txn_type = 'earn' and c.points <> floor(c.net_amount_cny * r.points_per_cny)
                then 'points_differ'
            when c.txn_type = 'redeem' and not coalesce(r.redeems, false)
                then 'channel_does_not_redeem'
            when c.txn_type = 'redeem' and -c.points > r.max_redeem_points_per_order
                then 'over_redeem_limit'
            else 'ok'
        end as rule_check
    from crm_with_order as c
    left join members as m
        on c.member_no = m.member_no
    left join rules as r
        on c.sales_channel = r.channel
),

recorded_earns as (
    select distinct channel, order_id
    from crm_rows
    where txn_type = 'earn'
),

rule_rows as (
    select
        {{ dbt.concat(["'rule:'", "o.channel", "'/'", "o.order_id"]) }} as ledger_entry_id,
        'rule' as source,
        cast(null as {{ dbt.type_string() }}) as points_txn_id,
        m.member_no,
        o.customer_id,
        o.ordered_at as txn_ts,
        o.order_date as txn_date,
        'earn' as txn_type,
        cast(null as {{ dbt.type_string() }}) as crm_reason,
        o.channel,
        o.order_id,
        floor(o.net_amount_cny * r.points_per_cny) as points,
        floor(o.net_amount_cny * r.points_per_cny) as expected_points,
        'missing_in_crm' as rule_check
    from orders as o
    inner join members as m
        on o.customer_id = m.customer_id and m.member_rank = 1
    inner join rules as r
        on o.channel = r.channel and r.earns
    left join recorded_earns as e
        on o.channel = e.channel and o.order_id = e.order_id
    where e.order_id is null
      and o.ordered_at >= m.joined_at
      and floor(o.net_amount_cny * r.points_per_cny) > 0
),

ledger as (
    select * from crm_rows
    union all
    select * from rule_rows
)

select
    cast(ledger_entry_id as {{ dbt.type_string() }}) as ledger_entry_id,
    cast(source as {{ dbt.type_string() }}) as source,
    cast(points_txn_id as {{ dbt.type_string() }}) as points_txn_id,
    cast(member_no as {{ dbt.type_string() }}) as member_no,
    cast(customer_id as {{ dbt.type_string() }}) as customer_id,
    cast(txn_ts as timestamp) as txn_ts,
    cast(txn_date as date) as txn_date,
    cast(txn_type as {{ dbt.type_string() }}) as txn_type,
    cast(crm_reason as {{ dbt.type_string() }}) as crm_reason,
    cast(channel as {{ dbt.type_string() }}) as channel,
    cast(order_id as {{ dbt.type_string() }}) as order_id,
    cast(points as {{ dbt.type_bigint() }}) as points,
    cast(expected_points as {{ dbt.type_bigint() }}) as expected_points,
    cast(rule_check as {{ dbt.type_string() }}) as rule_check
from ledger
