-- Clickstream visitors (anonymous id per day) flagged as bots, never deleted. Rules: a
-- crawler user agent, or a burst of events with no cart and no dwell (at least 40 events
-- in a day, under 5 seconds apart on average, never adding to cart).
with events as (
    select * from {{ ref('stg_lake__events') }}
),

visitor as (
    select channel, record_id as event_id, identifier_value as anonymous_id
    from {{ ref('stg_lake__identifiers') }}
    where entity = 'events' and identifier_type = 'anonymous_id'
),

daily as (
    select
        e.channel,
        v.anonymous_id,
        e.business_date as visit_date,
        count(*) as events,
        sum(case when e.event_type = 'add_to_cart' then 1 else 0 end) as carts,
        {{ dbt.datediff('min(e.event_ts)', 'max(e.event_ts)', 'second') }} as span_seconds,
        max(
            case
                when lower(e.user_agent) like '%bot%' or lower(e.user_agent) like '%crawl%'
                    or lower(e.user_agent) like '%spider%' or lower(e.user_agent) like '%headless%'
                    then 1
                else 0
            end
        ) as bot_agent
    from events as e
    inner join visitor as v
        on e.channel = v.channel and e.event_id = v.event_id
    group by 1, 2, 3
)

select
    channel,
    anonymous_id,
    visit_date,
    events,
    carts,
    span_seconds,
    case
        when bot_agent = 1 then 'user agent names a crawler'
        else 'at least 40 events in a day, under 5 s apart on average, no cart'
    end as rule
from daily
where bot_agent = 1
   or (events >= 40 and carts = 0 and span_seconds < 5 * (events - 1))
