-- Order lines of every channel (int_order_lines: master SKU, allocated discounts) with the
-- order's customer_id and flags from fct_orders. Nothing is filtered: test orders, brushing
-- suspects, unpaid and cancelled lines are carried with their flags and status. Net and
-- returned amounts also in CNY at the order's reference rate (fct_orders.fx_rate_to_cny).
-- is_real_order: the macro is_real_order over the line's own status and test mark with its
-- order's flags (a cancelled line of a paid order is no sale); readers filter on it.
-- Incremental per order (macros/incremental_orders.sql): a new day rebuilds the orders its
-- lake files name and those whose customer changed in fct_orders; a change of the SKU map,
-- the products or the FX rates rebuilds every order.
{{ config(**order_incremental(
    ['stg_lake__order_lines', 'stg_lake__orders', 'stg_lake__returns'],
    ['int_sku_map', 'stg_lake__products', 'int_fx_rates'],
    'fct_order_lines_customer_changes'
)) }}
-- depends_on: {{ ref('int_sku_map') }} {{ ref('stg_lake__products') }} {{ ref('int_fx_rates') }}

with lines as (
    select * from {{ ref('int_order_lines') }} as l
    where {{ changed_orders('l') }}
),

orders as (
    select
        channel, order_id, customer_id, ship_date, is_flagged_test, is_brushing_suspect,
        fx_rate_to_cny
    from {{ ref('fct_orders') }} as o
    where {{ changed_orders('o') }}
),

returns as (
    select channel, order_id, line_id, sum(quantity) as returned_units, sum(amount) as returned_amount
    from {{ ref('int_returns') }} as r
    where {{ changed_orders('r') }}
    group by 1, 2, 3
),

unified as (
    select
        cast(l.channel as {{ dbt.type_string() }}) as channel,
        cast(l.order_id as {{ dbt.type_string() }}) as order_id,
        cast(l.line_id as {{ dbt.type_string() }}) as line_id,
        cast(o.customer_id as {{ dbt.type_string() }}) as customer_id,
        cast(l.ordered_at as timestamp) as ordered_at,
        cast(l.order_date as date) as order_date,
        cast(l.location_id as {{ dbt.type_string() }}) as location_id,
        cast(l.status as {{ dbt.type_string() }}) as status,
        cast(o.ship_date as date) as ship_date,
        cast(l.is_test as boolean) as is_test,
        cast(coalesce(o.is_flagged_test, false) as boolean) as is_flagged_test,
        cast(coalesce(o.is_brushing_suspect, false) as boolean) as is_brushing_suspect,
        cast(l.channel_sku as {{ dbt.type_string() }}) as channel_sku,
        cast(l.sku as {{ dbt.type_string() }}) as sku,
        cast(l.product_name as {{ dbt.type_string() }}) as product_name,
        cast(l.quantity as {{ dbt.type_bigint() }}) as quantity,
        cast(l.unit_price as decimal(18, 2)) as unit_price,
        cast(l.line_total as decimal(18, 2)) as line_total,
        cast(l.discount as decimal(18, 2)) as discount,
        cast(l.net_amount as decimal(18, 2)) as net_amount,
        cast(l.currency as {{ dbt.type_string() }}) as currency,
        cast(l.source_file as {{ dbt.type_string() }}) as source_file,
        cast(l.source_row as {{ dbt.type_bigint() }}) as source_row,
        cast(o.fx_rate_to_cny as decimal(18, 6)) as fx_rate_to_cny,
        cast(l.net_amount * o.fx_rate_to_cny as decimal(18, 2)) as net_amount_cny,
        cast(coalesce(r.returned_units, 0) as {{ dbt.type_bigint() }}) as returned_units,
        cast(coalesce(r.returned_amount, 0) as decimal(18, 2)) as returned_amount,
        cast(coalesce(r.returned_amount, 0) * o.fx_rate_to_cny as decimal(18, 2)) as returned_amount_cny
    from lines as l
    left join orders as o
        on l.channel = o.channel and l.order_id = o.order_id
    left join returns as r
        on l.channel = r.channel and l.order_id = r.order_id and l.line_id = r.line_id
)

select
    u.*,
    cast(coalesce({{ is_real_order('u') }}, false) as boolean) as is_real_order
from unified as u
