-- One row per channel order, every channel, with its stable customer_id.
-- The customer: the one identity resolution gave the order record itself (record_customers,
-- entity 'orders', record_id = order_id), else the one of the order's contacts delivered in
-- their own file (entity 'order_contacts', record_id = order_id/role; the buyer before the
-- receiver). Null when no identifier links the order. Test and brushing orders are carried
-- with their flags, never filtered: readers decide. is_real_order is the one definition
-- of a real order (the macro is_real_order): readers filter on it, or say why they differ.
-- Net amounts are also given in CNY at the reference rate of the order's month (int_fx_rates);
-- returns are summed per order (POS return receipts are their own documents and name no
-- original receipt, so they count in fct_daily_sales but on no order here).
-- Incremental per order (macros/incremental_orders.sql): a new day rebuilds the orders its
-- lake files name and those whose customer changed (identity resolved their records again).
{{ config(**order_incremental(
    ['stg_lake__orders', 'stg_lake__order_lines', 'stg_lake__returns'],
    ['int_fx_rates'],
    'fct_orders_customer_changes'
)) }}

with orders as (
    select * from {{ ref('stg_lake__orders') }} as o
    where {{ changed_orders('o') }}
),

lines as (
    select
        channel,
        order_id,
        count(*) as lines,
        sum(quantity) as units,
        sum(net_amount) as net_amount
    from {{ ref('int_order_lines') }} as l
    where {{ changed_orders('l') }}
    group by 1, 2
),

returns as (
    select
        channel,
        order_id,
        count(*) as return_lines,
        sum(quantity) as returned_units,
        sum(amount) as returned_amount
    from {{ ref('int_returns') }} as r
    where {{ changed_orders('r') }}
    group by 1, 2
),

fx as (
    select * from {{ ref('int_fx_rates') }}
),

flags as (
    select
        channel,
        order_id,
        max(case when flag = 'test_order' then 1 else 0 end) as test_flag,
        max(case when flag = 'brushing_suspect' then 1 else 0 end) as brushing_flag
    from {{ ref('int_order_flags') }}
    group by 1, 2
),

customers as (
    {{ order_customers() }}
),

unified as (
    select
        cast(o.channel as {{ dbt.type_string() }}) as channel,
        cast(o.order_id as {{ dbt.type_string() }}) as order_id,
        cast(c.customer_id as {{ dbt.type_string() }}) as customer_id,
        cast(c.customer_source as {{ dbt.type_string() }}) as customer_source,
        cast(o.ordered_at as timestamp) as ordered_at,
        cast(o.order_date as date) as order_date,
        cast(o.location_id as {{ dbt.type_string() }}) as location_id,
        cast(o.status as {{ dbt.type_string() }}) as status,
        cast(o.shipped_at as timestamp) as shipped_at,
        cast(o.ship_date as date) as ship_date,
        cast(o.is_test as boolean) as is_test,
        cast(coalesce(f.test_flag, 0) = 1 as boolean) as is_flagged_test,
        cast(coalesce(f.brushing_flag, 0) = 1 as boolean) as is_brushing_suspect,
        cast(o.currency as {{ dbt.type_string() }}) as currency,
        cast(o.gross_total as decimal(18, 2)) as gross_total,
        cast(o.discount_total as decimal(18, 2)) as discount_total,
        cast(o.shipping_total as decimal(18, 2)) as shipping_total,
        cast(o.order_total as decimal(18, 2)) as order_total,
        cast(o.paid_total as decimal(18, 2)) as paid_total,
        cast(coalesce(l.lines, 0) as {{ dbt.type_bigint() }}) as lines,
        cast(coalesce(l.units, 0) as {{ dbt.type_bigint() }}) as units,
        cast(l.net_amount as decimal(18, 2)) as net_amount,
        cast(fx.rate_to_cny as decimal(18, 6)) as fx_rate_to_cny,
        cast(l.net_amount * fx.rate_to_cny as decimal(18, 2)) as net_amount_cny,
        cast(coalesce(r.return_lines, 0) as {{ dbt.type_bigint() }}) as return_lines,
        cast(coalesce(r.returned_units, 0) as {{ dbt.type_bigint() }}) as returned_units,
        cast(coalesce(r.returned_amount, 0) as decimal(18, 2)) as returned_amount,
        cast(coalesce(r.returned_amount, 0) * fx.rate_to_cny as decimal(18, 2)) as returned_amount_cny
    from orders as o
    left join lines as l
        on o.channel = l.channel and o.order_id = l.order_id
    left join returns as r
        on o.channel = r.channel and o.order_id = r.order_id
    left join fx
        on o.currency = fx.currency
        and o.order_date >= fx.valid_from
        and o.order_date < fx.valid_to
    left join flags as f
        on o.channel = f.channel and o.order_id = f.order_id
    left join customers as c
        on o.channel = c.channel and o.order_id = c.order_id
)

select
    u.*,
    cast(coalesce({{ is_real_order('u') }}, false) as boolean) as is_real_order
from unified as u
