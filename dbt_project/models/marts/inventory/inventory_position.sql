-- Stock position per location × SKU × day, from the latest ERP snapshot on or before the day.
-- The ERP's on_hand is the physical stock at the end of its day: units sold and not yet
-- shipped are still on the shelf. Each real line with a location (not test, brushing or
-- cancelled) is placed on its order_date and leaves the location on its ship_date (the
-- export's ship time: 发货时间, a fulfilment, a delivery); a shipped or completed line whose
-- export gives no ship time (JD, Amazon, Tmall's classic header) is counted as leaving when
-- placed, a pending or paid one without it has not left. Per day:
--   reserved            = units placed on or before the day and not left by its end (open
--                         orders paid or pending, not shipped: promised, still on hand);
--   sold_since_snapshot = units that left after the snapshot day, up to the day;
--   available_to_promise = on_hand - sold_since_snapshot - reserved (at least 0).
-- Events before a pair's first snapshot count on that day (what was open then is reserved).
-- in_transit is the snapshot's in_transit (units on purchase orders and transfers shipped to the
-- location, not yet received) where the ERP delivers it, else 0.
-- Incremental by date (macros/incremental_inventory.sql): a new day rebuilds the dates from
-- the earliest one whose snapshots or line events changed, carrying each pair's running
-- figures from its last row before it.
{{ config(**inventory_incremental()) }}

with {{ inventory_lines() }},

location_days as (
    select distinct location_id, snapshot_date as position_date
    from snapshots
),

days as (
    select snapshot_date as position_date from snapshots
    union
    select event_date as position_date
    from lines
),

grid as (
    select
        p.location_id,
        p.sku,
        d.position_date
    from pairs as p
    inner join days as d on d.position_date >= p.first_snapshot
    {%- if is_incremental() %}
        and d.position_date >= {{ inventory_cutoff() }}
    {%- endif %}
),

joined as (
    select
        g.location_id,
        g.sku,
        g.position_date,
        s.snapshot_date,
        s.on_hand,
        s.in_transit,
        ld.position_date is not null as location_reported,
        sum(coalesce(l.placed_units, 0)) over (
            partition by g.location_id, g.sku order by g.position_date
            rows between unbounded preceding and current row
        ) as cum_placed,
        sum(coalesce(l.left_units, 0)) over (
            partition by g.location_id, g.sku order by g.position_date
            rows between unbounded preceding and current row
        ) as cum_left
    from grid as g
    left join snapshots as s
        on g.location_id = s.location_id and g.sku = s.sku and g.position_date = s.snapshot_date
    left join location_days as ld
        on g.location_id = ld.location_id and g.position_date = ld.position_date
    left join lines as l
        on g.location_id = l.location_id and g.sku = l.sku and g.position_date = l.event_date
),

filled as (
    select
        *,
        {{ last_non_null('snapshot_date') }} over w as last_snapshot_date,
        {{ last_non_null('on_hand') }} over w as last_on_hand,
        {{ last_non_null('in_transit') }} over w as last_in_transit,
        {{ last_non_null('case when snapshot_date is not null then cum_left end') }}
            over w as cum_left_at_snapshot
    from joined
    window w as (
        partition by location_id, sku order by position_date
        rows between unbounded preceding and current row
    )
),

{%- if is_incremental() %}

-- each pair's figures on the last day before the cutoff (the rows kept): every pair has a
-- row on every day from its first snapshot, and its first snapshot is a day
carried as (
    select location_id, sku, snapshot_date, on_hand, in_transit, sold_since_snapshot, reserved
    from {{ this }}
    where position_date = (
        select max(position_date) from {{ this }}
        where position_date < {{ inventory_cutoff() }}
    )
),

continued as (
    select
        f.*,
        c.snapshot_date as carried_snapshot_date,
        coalesce(f.last_on_hand, c.on_hand) as carried_on_hand,
        coalesce(f.last_in_transit, c.in_transit) as carried_in_transit,
        case
            when f.cum_left_at_snapshot is not null then f.cum_left - f.cum_left_at_snapshot
            else c.sold_since_snapshot + f.cum_left
        end as carried_sold,
        coalesce(c.reserved, 0) + f.cum_placed - f.cum_left as carried_reserved
    from filled as f
    left join carried as c on f.location_id = c.location_id and f.sku = c.sku
),

measured as (
    select
        position_date,
        location_id,
        sku,
        coalesce(last_snapshot_date, carried_snapshot_date) as snapshot_date,
        case
            when snapshot_date is not null then 'current'
            when not location_reported then 'stale'
            when carried_on_hand - carried_sold > 0 then 'missing'
            else 'delisted'
        end as snapshot_status,
        carried_on_hand as on_hand,
        carried_sold as sold_since_snapshot,
        carried_reserved as reserved,
        carried_in_transit as in_transit
    from continued
),
{%- else %}

measured as (
    select
        position_date,
        location_id,
        sku,
        last_snapshot_date as snapshot_date,
        case
            when snapshot_date is not null then 'current'
            when not location_reported then 'stale'
            -- left out of the location's snapshot while units should still be on the shelf
            when last_on_hand - (cum_left - cum_left_at_snapshot) > 0 then 'missing'
            else 'delisted'
        end as snapshot_status,
        last_on_hand as on_hand,
        cum_left - cum_left_at_snapshot as sold_since_snapshot,
        cum_placed - cum_left as reserved,
        last_in_transit as in_transit
    from filled
),
{%- endif %}

locations as (
    select location_id, location_type from {{ ref('stg_lake__locations') }}
)

select
    cast(m.position_date as date) as position_date,
    cast(m.location_id as {{ dbt.type_string() }}) as location_id,
    cast(loc.location_type as {{ dbt.type_string() }}) as location_type,
    cast(m.sku as {{ dbt.type_string() }}) as sku,
    cast(m.snapshot_date as date) as snapshot_date,
    cast({{ dbt.datediff('m.snapshot_date', 'm.position_date', 'day') }} as integer)
        as snapshot_age_days,
    cast(m.snapshot_status as {{ dbt.type_string() }}) as snapshot_status,
    cast(m.on_hand as {{ dbt.type_bigint() }}) as on_hand,
    cast(m.sold_since_snapshot as {{ dbt.type_bigint() }}) as sold_since_snapshot,
    cast(m.reserved as {{ dbt.type_bigint() }}) as reserved,
    cast(m.in_transit as {{ dbt.type_bigint() }}) as in_transit,
    cast(
        greatest(m.on_hand - m.sold_since_snapshot - m.reserved, 0) as {{ dbt.type_bigint() }}
    ) as available_to_promise,
    cast(
        greatest(m.sold_since_snapshot + m.reserved - m.on_hand, 0) as {{ dbt.type_bigint() }}
    ) as oversold_units,
    cast(
        m.on_hand - m.sold_since_snapshot - m.reserved + m.in_transit as {{ dbt.type_bigint() }}
    ) as inventory_position,
    cast(m.position_date = (select max(position_date) from measured) as boolean) as is_latest
from measured as m
left join locations as loc on m.location_id = loc.location_id
