-- Stock position per location × SKU × day, from the latest ERP snapshot on or before the day.
-- The ERP's on_hand is end-of-day stock after that day's orders (the demo ERP deducts an order
-- when it is placed), so orders placed after the snapshot are deducted here: shipped and
-- completed ones as sold_since_snapshot, open ones (pending, paid) as reserved. With the var
-- snapshot_nets_open_orders false (an ERP that counts physical stock), every open order up to
-- the day is reserved. Only real lines with a location count (not test, brushing, cancelled).
-- in_transit is the snapshot's in_transit (units on purchase orders and transfers shipped to the
-- location, not yet received) where the ERP delivers it, else 0.
{% set nets_open = var('snapshot_nets_open_orders', true) %}

with snapshots as (
    select
        snapshot_date,
        location_id,
        sku,
        on_hand,
        coalesce(in_transit, 0) as in_transit
    from {{ ref('stg_lake__inventory') }}
),

lines as (
    select
        location_id,
        sku,
        order_date,
        sum(case when status in ('pending', 'paid') then quantity else 0 end) as open_units,
        sum(case when status in ('shipped', 'completed') then quantity else 0 end) as closed_units
    from {{ ref('fct_order_lines') }}
    where
        not is_test
        and not coalesce(is_brushing_suspect, false)
        and location_id is not null
        and sku is not null
        and order_date is not null
    group by 1, 2, 3
),

location_days as (
    select distinct location_id, snapshot_date as position_date
    from snapshots
),

days as (
    select snapshot_date as position_date from snapshots
    union
    select order_date as position_date
    from lines
    where order_date >= (select min(snapshot_date) from snapshots)
),

pairs as (
    select location_id, sku, min(snapshot_date) as first_snapshot
    from snapshots
    group by 1, 2
),

grid as (
    select
        p.location_id,
        p.sku,
        d.position_date
    from pairs as p
    inner join days as d on d.position_date >= p.first_snapshot
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
        sum(coalesce(l.open_units, 0)) over (
            partition by g.location_id, g.sku order by g.position_date
            rows between unbounded preceding and current row
        ) as cum_open,
        sum(coalesce(l.closed_units, 0)) over (
            partition by g.location_id, g.sku order by g.position_date
            rows between unbounded preceding and current row
        ) as cum_closed
    from grid as g
    left join snapshots as s
        on g.location_id = s.location_id and g.sku = s.sku and g.position_date = s.snapshot_date
    left join location_days as ld
        on g.location_id = ld.location_id and g.position_date = ld.position_date
    left join lines as l
        on g.location_id = l.location_id and g.sku = l.sku and g.position_date = l.order_date
),

filled as (
    select
        *,
        {{ last_non_null('snapshot_date') }} over w as last_snapshot_date,
        {{ last_non_null('on_hand') }} over w as last_on_hand,
        {{ last_non_null('in_transit') }} over w as last_in_transit,
        {{ last_non_null('case when snapshot_date is not null then cum_open end') }}
            over w as cum_open_at_snapshot,
        {{ last_non_null('case when snapshot_date is not null then cum_closed end') }}
            over w as cum_closed_at_snapshot
    from joined
    window w as (
        partition by location_id, sku order by position_date
        rows between unbounded preceding and current row
    )
),

measured as (
    select
        position_date,
        location_id,
        sku,
        last_snapshot_date as snapshot_date,
        case
            when snapshot_date is not null then 'current'
            when not location_reported then 'stale'
            when last_on_hand > 0 then 'missing'
            else 'delisted'
        end as snapshot_status,
        last_on_hand as on_hand,
        cum_closed - cum_closed_at_snapshot as sold_since_snapshot,
        {% if nets_open -%}
        cum_open - cum_open_at_snapshot as reserved,
        {%- else -%}
        cum_open as reserved,
        {%- endif %}
        last_in_transit as in_transit
    from filled
),

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
