-- One row per customer with a real order (is_real_order): how they were acquired and the
-- steps public -> private -> repeat after that, on the unified customer_id (OneID).
--
-- Acquisition: the first real order (earliest ordered_at, then channel and order id). Its
-- channel is the acquisition channel; an order credited to a host (anchor_id set: Douyin's
-- 达人ID, 0 for the brand's own live room) is a live-session order and counts as
-- '<channel>_live'. acquisition_class: marketplace, live, own_online or store.
-- First category: the category with the largest net amount on the first order's lines.
--
-- Private domain (私域) touches, each linked to a customer by identity resolution
-- (identity.record_customers): WeChat official-account follows (social, platform wechat_oa),
-- WeCom contacts added by staff (social, platform wecom), CRM member sign-ups
-- (int_member_customers.joined_at), mini-program opens (events of channel wechat: every
-- mini-program event carries the user's openid, i.e. a login) and brand-app logins (events
-- of channel app, event_type login). Only touches at or after the first purchase count as
-- joining; a customer already in the private domain before it is flagged
-- (private_before_first_order) and never counted as converting.
--
-- Repeat: the next real order after the first on any channel; repeat after joining: the first
-- real order strictly after private_joined_at. as_of_date is the last day with a real order,
-- and followup_days the days from the first order to it: readers right-censor with it.
with orders as (
    select
        o.customer_id,
        o.channel,
        o.order_id,
        o.ordered_at,
        o.order_date,
        coalesce(o.net_amount_cny, 0) as net_amount_cny,
        nullif(trim(cast(s.anchor_id as {{ dbt.type_string() }})), '') as host_id
    from {{ ref('fct_orders') }} as o
    left join {{ ref('stg_lake__orders') }} as s
        on o.channel = s.channel and o.order_id = s.order_id
    where o.customer_id is not null and {{ is_real_order('o') }}
),

ranked as (
    select
        *,
        row_number() over (
            partition by customer_id order by ordered_at, channel, order_id
        ) as order_rank
    from orders
),

as_of as (
    select max(order_date) as as_of_date from orders
),

first_orders as (
    select * from ranked where order_rank = 1
),

first_category as (
    select customer_id, category
    from (
        select
            f.customer_id,
            coalesce(p.category, 'unknown') as category,
            row_number() over (
                partition by f.customer_id
                order by sum(coalesce(l.net_amount_cny, 0)) desc, coalesce(p.category, 'unknown')
            ) as category_rank
        from first_orders as f
        inner join {{ ref('fct_order_lines') }} as l
            on f.channel = l.channel and f.order_id = l.order_id
        left join {{ ref('stg_lake__products') }} as p
            on l.sku = p.sku
        group by f.customer_id, coalesce(p.category, 'unknown')
    ) as c
    where category_rank = 1
),

record_customers as (
    select channel, entity, record_id, customer_id
    from {{ source('identity', 'record_customers') }}
    where entity in ('events', 'social') and customer_id is not null
),

touches as (
    select
        rc.customer_id,
        case when s.platform = 'wechat_oa' then 'wechat_oa_follow' else 'wecom_contact' end
            as touch,
        s.activity_ts as touched_at
    from {{ ref('stg_lake__social') }} as s
    inner join record_customers as rc
        on rc.entity = 'social' and s.channel = rc.channel and s.activity_id = rc.record_id
    where
        (s.platform = 'wechat_oa' and s.activity_type = 'follow')
        or (s.platform = 'wecom' and s.activity_type = 'add_contact')
    union all
    select
        rc.customer_id,
        case when e.channel = 'wechat' then 'mini_program_login' else 'app_login' end as touch,
        e.event_ts as touched_at
    from {{ ref('stg_lake__events') }} as e
    inner join record_customers as rc
        on rc.entity = 'events' and e.channel = rc.channel and e.event_id = rc.record_id
    where e.channel = 'wechat' or (e.channel = 'app' and e.event_type = 'login')
    union all
    select customer_id, 'member_signup' as touch, joined_at as touched_at
    from {{ ref('int_member_customers') }}
    where customer_id is not null and joined_at is not null
),

touch_vs_first as (
    select
        t.customer_id,
        t.touch,
        t.touched_at,
        case when t.touched_at < f.ordered_at then 1 else 0 end as is_before
    from touches as t
    inner join first_orders as f
        on t.customer_id = f.customer_id
),

joined as (
    select customer_id, touch, touched_at
    from (
        select
            customer_id,
            touch,
            touched_at,
            row_number() over (partition by customer_id order by touched_at, touch) as touch_rank
        from touch_vs_first
        where is_before = 0
    ) as j
    where touch_rank = 1
),

before_first as (
    select customer_id, count(*) as touches_before
    from touch_vs_first
    where is_before = 1
    group by 1
),

second_orders as (
    select customer_id, ordered_at, channel from ranked where order_rank = 2
),

repeat_after_join as (
    select r.customer_id, min(r.ordered_at) as ordered_at
    from ranked as r
    inner join joined as j
        on r.customer_id = j.customer_id and r.ordered_at > j.touched_at
    where r.order_rank > 1
    group by 1
),

totals as (
    select
        customer_id,
        count(*) as orders,
        count(distinct channel) as channels_used,
        sum(net_amount_cny) as sales_cny
    from orders
    group by 1
)

select
    cast(f.customer_id as {{ dbt.type_string() }}) as customer_id,
    cast(case when f.host_id is not null then f.channel || '_live' else f.channel end
        as {{ dbt.type_string() }}) as acquisition_channel,
    cast(case
        when f.host_id is not null then 'live'
        when f.channel in ('tmall', 'jd', 'douyin', 'amazon') then 'marketplace'
        when f.channel = 'pos' then 'store'
        else 'own_online'
    end as {{ dbt.type_string() }}) as acquisition_class,
    cast(f.channel as {{ dbt.type_string() }}) as first_channel,
    cast(f.order_id as {{ dbt.type_string() }}) as first_order_id,
    cast(f.host_id as {{ dbt.type_string() }}) as first_host_id,
    cast(f.ordered_at as timestamp) as first_ordered_at,
    cast(f.order_date as date) as first_order_date,
    cast({{ dbt.date_trunc('month', 'f.order_date') }} as date) as first_order_month,
    cast(coalesce(c.category, 'unknown') as {{ dbt.type_string() }}) as first_category,
    cast(f.net_amount_cny as decimal(18, 2)) as first_order_value_cny,
    cast(coalesce(b.touches_before, 0) > 0 as boolean) as private_before_first_order,
    cast(j.touched_at as timestamp) as private_joined_at,
    cast(j.touch as {{ dbt.type_string() }}) as private_join_touch,
    cast(s.ordered_at as timestamp) as repeat_ordered_at,
    cast(s.channel as {{ dbt.type_string() }}) as repeat_channel,
    cast(r.ordered_at as timestamp) as repeat_after_join_at,
    cast(t.orders as {{ dbt.type_bigint() }}) as orders,
    cast(t.channels_used as {{ dbt.type_bigint() }}) as channels_used,
    cast(t.sales_cny as decimal(18, 2)) as sales_cny,
    cast(a.as_of_date as date) as as_of_date,
    cast({{ dbt.datediff('f.order_date', 'a.as_of_date', 'day') }} as {{ dbt.type_bigint() }})
        as followup_days
from first_orders as f
cross join as_of as a
left join first_category as c
    on f.customer_id = c.customer_id
left join before_first as b
    on f.customer_id = b.customer_id
left join joined as j
    on f.customer_id = j.customer_id
left join second_orders as s
    on f.customer_id = s.customer_id
left join repeat_after_join as r
    on f.customer_id = r.customer_id
left join totals as t
    on f.customer_id = t.customer_id
