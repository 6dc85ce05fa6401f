-- One row per customer (dim_customers): what they bought, where, how recently and how much,
-- their RFM scores, an LTV estimate, where and what they prefer, live-commerce and social
-- engagement, membership and consent. Marketer tags and segments, exports and the
-- recommender read it (contract enforced: keep column names stable).
--
-- Orders counted: real orders only (not a test, not a brushing suspect; paid, shipped or
-- completed). Money in CNY at the month's reference rate (fct_orders.net_amount_cny).
-- revenue_cny is net of returns; aov_cny is sales before returns per order.
-- as_of_date is the last day any real order was placed (from the data, not the clock), so a
-- rebuild of the same data gives the same scores.
-- RFM: each score 1-5 from the customer's percent rank among buyers (1 + floor(5 x rank),
-- capped at 5), so ties share a score and a customer base where most bought once gives
-- those one-timers f_score 1. Recency ranks longest-ago first (recent = 5).
-- ltv_estimate_cny: revenue to date plus a 12-month projection, a heuristic rather than a fitted
-- model: the customer's order rate (orders per tenure, tenure at least 90 days) x AOV x the
-- chance they are still active, gap / (gap + recency_days), with gap their mean days between
-- orders (at least 30).
with customers as (
    select customer_id from {{ ref('dim_customers') }}
),

orders as (
    select o.*
    from {{ ref('fct_orders') }} as o
    where o.customer_id is not null and {{ is_real_order('o') }}
),

lines as (
    select o.customer_id, l.sku, l.quantity, l.discount, l.net_amount_cny
    from {{ ref('fct_order_lines') }} as l
    inner join orders as o
        on l.channel = o.channel and l.order_id = o.order_id
),

products as (
    select sku, category from {{ ref('stg_lake__products') }}
),

locations as (
    select location_id, location_type, country from {{ ref('stg_lake__locations') }}
),

as_of as (
    select max(order_date) as as_of_date from orders
),

order_stats as (
    select
        o.customer_id,
        min(o.order_date) as first_order_date,
        max(o.order_date) as last_order_date,
        count(*) as orders,
        sum(o.units) as units,
        sum(coalesce(o.net_amount_cny, 0)) as sales_cny,
        sum(o.returned_amount_cny) as returned_cny,
        count(distinct o.channel) as channels_used,
        {{ listagg_distinct("o.channel", "','") }} as channels,
        max(case
            when o.currency <> 'CNY' or coalesce(loc.country, 'CN') <> 'CN' then 1 else 0
        end) as cross_border,
        max(case when o.channel = 'pos' then 1 else 0 end) as bought_in_store,
        max(case when o.channel <> 'pos' then 1 else 0 end) as bought_online
    from orders as o
    left join locations as loc
        on o.location_id = loc.location_id
    group by 1
),

channel_stats as (
    select
        customer_id,
        channel,
        count(*) as orders,
        sum(coalesce(net_amount_cny, 0)) as sales_cny,
        min(ordered_at) as first_ordered_at,
        max(ordered_at) as last_ordered_at
    from orders
    group by 1, 2
),

channel_picks as (
    select
        customer_id,
        max(case when first_rank = 1 then channel end) as first_channel,
        max(case when preferred_rank = 1 then channel end) as preferred_channel
    from (
        select
            customer_id,
            channel,
            row_number() over (
                partition by customer_id order by first_ordered_at, channel
            ) as first_rank,
            row_number() over (
                partition by customer_id
                order by orders desc, sales_cny desc, last_ordered_at desc, channel
            ) as preferred_rank
        from channel_stats
    ) as ranked
    group by 1
),

store_picks as (
    select customer_id, location_id as preferred_store
    from (
        select
            o.customer_id,
            o.location_id,
            row_number() over (
                partition by o.customer_id
                order by count(*) desc, max(o.ordered_at) desc, o.location_id
            ) as store_rank
        from orders as o
        inner join locations as loc
            on o.location_id = loc.location_id and loc.location_type = 'store'
        group by o.customer_id, o.location_id
    ) as ranked
    where store_rank = 1
),

line_stats as (
    select
        customer_id,
        sum(quantity) as line_units,
        sum(case when discount > 0 then quantity else 0 end) as promo_units
    from lines
    group by 1
),

category_picks as (
    select customer_id, category as top_category
    from (
        select
            l.customer_id,
            p.category,
            row_number() over (
                partition by l.customer_id
                order by sum(l.net_amount_cny) desc, sum(l.quantity) desc, p.category
            ) as category_rank
        from lines as l
        inner join products as p
            on l.sku = p.sku
        group by l.customer_id, p.category
    ) as ranked
    where category_rank = 1
),

buyers as (
    select
        s.*,
        s.sales_cny - s.returned_cny as revenue_cny,
        {{ dbt.datediff('s.last_order_date', 'a.as_of_date', 'day') }} as recency_days,
        {{ dbt.datediff('s.first_order_date', 'a.as_of_date', 'day') }} + 1 as tenure_days
    from order_stats as s
    cross join as_of as a
),

scored as (
    select
        b.*,
        least(5, 1 + floor(5 * percent_rank() over (order by b.recency_days desc))) as r_score,
        least(5, 1 + floor(5 * percent_rank() over (order by b.orders))) as f_score,
        least(5, 1 + floor(5 * percent_rank() over (order by b.revenue_cny))) as m_score
    from buyers as b
),

valued as (
    -- ratios in double precision on every engine (DuckDB divides decimals in double; Spark
    -- would keep a decimal rounded to 6 places)
    select
        s.*,
        cast(s.sales_cny as double) / s.orders as aov_cny,
        greatest(cast(s.tenure_days as double) / s.orders, 30.0) as mean_gap_days
    from scored as s
),

membership as (
    select * from {{ ref('int_customer_membership') }}
),

store_fallback as (
    select m.customer_id, m.join_location_id
    from membership as m
    inner join locations as loc
        on m.join_location_id = loc.location_id and loc.location_type = 'store'
)

select
    cast(c.customer_id as {{ dbt.type_string() }}) as customer_id,
    cast(v.first_order_date as date) as first_order_date,
    cast(v.last_order_date as date) as last_order_date,
    cast(coalesce(v.orders, 0) as {{ dbt.type_bigint() }}) as orders,
    cast(coalesce(v.units, 0) as {{ dbt.type_bigint() }}) as units,
    cast(coalesce(v.sales_cny, 0) as decimal(18, 2)) as sales_cny,
    cast(coalesce(v.returned_cny, 0) as decimal(18, 2)) as returned_cny,
    cast(coalesce(v.revenue_cny, 0) as decimal(18, 2)) as revenue_cny,
    cast(v.aov_cny as decimal(18, 2)) as aov_cny,
    cast(v.recency_days as {{ dbt.type_bigint() }}) as recency_days,
    cast(v.r_score as integer) as r_score,
    cast(v.f_score as integer) as f_score,
    cast(v.m_score as integer) as m_score,
    cast(
        case
            when v.customer_id is null then 'prospect'
            when v.r_score >= 4 and v.f_score >= 4 and v.m_score >= 4 then 'champions'
            when v.r_score >= 3 and v.f_score >= 4 then 'loyal'
            when v.r_score >= 4 and v.orders = 1 then 'new'
            when v.r_score >= 4 then 'promising'
            when v.r_score = 3 then 'need_attention'
            when v.f_score >= 4 or v.m_score >= 4 then 'at_risk'
            when v.r_score = 2 then 'hibernating'
            else 'lost'
        end as {{ dbt.type_string() }}
    ) as rfm_segment,
    cast(
        v.revenue_cny
        + v.aov_cny * (cast(365 * v.orders as double) / greatest(v.tenure_days, 90))
        * (v.mean_gap_days / (v.mean_gap_days + v.recency_days))
        as decimal(18, 2)
    ) as ltv_estimate_cny,
    cast(coalesce(v.channels_used, 0) as {{ dbt.type_bigint() }}) as channels_used,
    cast(v.channels as {{ dbt.type_string() }}) as channels,
    cast(cp.first_channel as {{ dbt.type_string() }}) as first_channel,
    cast(cp.preferred_channel as {{ dbt.type_string() }}) as preferred_channel,
    cast(coalesce(sp.preferred_store, sf.join_location_id) as {{ dbt.type_string() }})
        as preferred_store,
    cast(cat.top_category as {{ dbt.type_string() }}) as top_category,
    cast(
        case when ls.line_units > 0 then cast(ls.promo_units as double) / ls.line_units end
        as double
    ) as promo_share,
    cast(coalesce(e.live_sessions_watched, 0) as {{ dbt.type_bigint() }}) as live_sessions_watched,
    cast(coalesce(e.live_add_to_carts, 0) as {{ dbt.type_bigint() }}) as live_add_to_carts,
    cast(coalesce(e.hosts_followed, 0) as {{ dbt.type_bigint() }}) as hosts_followed,
    cast(coalesce(e.social_interactions, 0) as {{ dbt.type_bigint() }}) as social_interactions,
    cast(m.customer_id is not null as boolean) as is_member,
    cast(m.member_no as {{ dbt.type_string() }}) as member_no,
    cast(m.member_tier as {{ dbt.type_string() }}) as member_tier,
    cast(m.crm_points_balance as {{ dbt.type_bigint() }}) as points_balance,
    cast(coalesce(cs.consent_email, 'unknown') as {{ dbt.type_string() }}) as consent_email,
    cast(coalesce(cs.consent_sms, 'unknown') as {{ dbt.type_string() }}) as consent_sms,
    cast(coalesce(cs.consent_wechat, 'unknown') as {{ dbt.type_string() }}) as consent_wechat,
    cast(coalesce(cs.consent_ads, 'unknown') as {{ dbt.type_string() }}) as consent_ads,
    cast(coalesce(cs.consent_cross_border, 'unknown') as {{ dbt.type_string() }}) as consent_cross_border,
    cast(coalesce(v.bought_in_store = 1 and v.bought_online = 1, false) as boolean)
        as is_omnichannel,
    cast(coalesce(v.cross_border = 1, false) as boolean) as is_cross_border_buyer,
    cast(coalesce(v.bought_in_store = 1 and v.bought_online = 0, false) as boolean)
        as is_store_only,
    cast((select as_of_date from as_of) as date) as as_of_date,
    cast({{ dbt.current_timestamp() }} as timestamp) as computed_at
from customers as c
left join valued as v
    on c.customer_id = v.customer_id
left join channel_picks as cp
    on c.customer_id = cp.customer_id
left join store_picks as sp
    on c.customer_id = sp.customer_id
left join store_fallback as sf
    on c.customer_id = sf.customer_id
left join category_picks as cat
    on c.customer_id = cat.customer_id
left join line_stats as ls
    on c.customer_id = ls.customer_id
left join {{ ref('int_customer_engagement') }} as e
    on c.customer_id = e.customer_id
left join membership as m
    on c.customer_id = m.customer_id
left join {{ ref('int_customer_consents') }} as cs
    on c.customer_id = cs.customer_id
