-- Available-to-promise per sales channel × pool × SKU on the latest position date, under the
-- allocation rules of the seed allocation_rules (one row per channel: which location type and
-- country serve it, pooled over the network, per city or per location, and the safety buffer
-- held back per location: max(ceil(buffer_pct × ATP), buffer_units)). Channels share stock,
-- so the figures of different channels are not additive. Open orders of a channel that carry
-- no location (the channel does not say where it ships from) are deducted from its network
-- pool; Amazon's are not (Amazon nets its own open orders in the FBA count).
with positions as (
    select * from {{ ref('inventory_position') }}
    where is_latest
),

rules as (
    select * from {{ ref('allocation_rules') }}
),

locations as (
    select location_id, location_type, city, country from {{ ref('stg_lake__locations') }}
),

eligible as (
    select
        r.atp_channel,
        r.pool_by,
        case
            when r.pool_by = 'network' then 'all'
            when r.pool_by = 'city' then l.city
            else l.location_id
        end as pool,
        p.position_date,
        p.location_id,
        p.sku,
        p.on_hand,
        p.reserved + p.sold_since_snapshot as committed,
        p.available_to_promise,
        least(
            p.available_to_promise,
            -- rounded first: float noise (a product like 2.0000000000000004) must not add a unit
            greatest(ceil(round(r.buffer_pct * p.available_to_promise, 6)), r.buffer_units)
        ) as buffer
    from positions as p
    inner join locations as l on p.location_id = l.location_id
    inner join rules as r
        on
            l.location_type = r.location_type
            and (r.country is null or l.country = r.country)
),

pooled as (
    select
        atp_channel,
        pool_by,
        pool,
        sku,
        max(position_date) as as_of_date,
        count(*) as locations,
        sum(on_hand) as on_hand,
        sum(committed) as committed,
        sum(available_to_promise) as available_to_promise,
        sum(buffer) as safety_buffer
    from eligible
    group by 1, 2, 3, 4
),

unlocated as (
    select
        r.atp_channel,
        o.sku,
        sum(o.quantity) as open_units
    from {{ ref('fct_order_lines') }} as o
    inner join rules as r on o.channel = r.order_channel
    where
        o.location_id is null
        and o.status in ('pending', 'paid')
        and o.ship_date is null  -- a paid line with a ship time has left (web, mini-program)
        and not o.is_test
        and not coalesce(o.is_brushing_suspect, false)
        and o.sku is not null
        and r.pool_by = 'network'
    group by 1, 2
)

select
    cast(p.as_of_date as date) as as_of_date,
    cast(p.atp_channel as {{ dbt.type_string() }}) as atp_channel,
    cast(p.pool_by as {{ dbt.type_string() }}) as pool_by,
    cast(p.pool as {{ dbt.type_string() }}) as pool,
    cast(p.sku as {{ dbt.type_string() }}) as sku,
    cast(p.locations as {{ dbt.type_bigint() }}) as locations,
    cast(p.on_hand as {{ dbt.type_bigint() }}) as on_hand,
    cast(p.committed as {{ dbt.type_bigint() }}) as committed,
    cast(p.available_to_promise as {{ dbt.type_bigint() }}) as available_to_promise,
    cast(p.safety_buffer as {{ dbt.type_bigint() }}) as safety_buffer,
    cast(coalesce(u.open_units, 0) as {{ dbt.type_bigint() }}) as unlocated_open_units,
    cast(
        greatest(p.available_to_promise - p.safety_buffer - coalesce(u.open_units, 0), 0)
        as {{ dbt.type_bigint() }}
    ) as channel_atp
from pooled as p
left join unlocated as u
    on p.atp_channel = u.atp_channel and p.sku = u.sku and p.pool_by = 'network'
