-- Behavioural engagement per customer from events and social activity that identity
-- resolution linked to a customer (identity.record_customers): live-commerce sessions watched
-- (distinct live sessions with any live event), add-to-carts in a live room, hosts followed
-- (distinct hosts of live_follow events), and social interactions (every social activity -
-- follows, likes, comments, shares, mentions, WeCom contacts - plus social-channel events
-- such as article reads).
with record_customers as (
    select channel, entity, record_id, customer_id
    from {{ source('identity', 'record_customers') }}
    where entity in ('events', 'social') and customer_id is not null
),

events as (
    select
        rc.customer_id,
        e.channel,
        e.event_type,
        e.live_session_id,
        e.anchor_id
    from {{ ref('stg_lake__events') }} as e
    inner join record_customers as rc
        on rc.entity = 'events' and e.channel = rc.channel and e.event_id = rc.record_id
),

social as (
    select rc.customer_id, count(*) as activities
    from {{ ref('stg_lake__social') }} as s
    inner join record_customers as rc
        on rc.entity = 'social' and s.channel = rc.channel and s.activity_id = rc.record_id
    group by 1
),

event_stats as (
    select
        customer_id,
        count(distinct case when live_session_id is not null then live_session_id end)
            as live_sessions_watched,
        sum(case when event_type = 'live_add_to_cart' then 1 else 0 end) as live_add_to_carts,
        count(distinct case when event_type = 'live_follow' then anchor_id end) as hosts_followed,
        sum(case when channel = 'social' then 1 else 0 end) as social_events
    from events
    group by 1
),

customers as (
    select customer_id from event_stats
    union
    select customer_id from social
)

select
    cast(c.customer_id as {{ dbt.type_string() }}) as customer_id,
    cast(coalesce(e.live_sessions_watched, 0) as {{ dbt.type_bigint() }}) as live_sessions_watched,
    cast(coalesce(e.live_add_to_carts, 0) as {{ dbt.type_bigint() }}) as live_add_to_carts,
    cast(coalesce(e.hosts_followed, 0) as {{ dbt.type_bigint() }}) as hosts_followed,
    cast(coalesce(s.activities, 0) + coalesce(e.social_events, 0) as {{ dbt.type_bigint() }})
        as social_interactions
from customers as c
left join event_stats as e
    on c.customer_id = e.customer_id
left join social as s
    on c.customer_id = s.customer_id
