-- Order lines of every channel (int_order_lines: master SKU, allocated discounts) with the
-- order's customer_id and flags from fct_orders. Nothing is filtered: test orders, brushing
-- suspects, unpaid and cancelled lines are carried with their flags and status.
with lines as (
    select * from {{ ref('int_order_lines') }}
),

orders as (
    select channel, order_id, customer_id, is_brushing_suspect
    from {{ ref('fct_orders') }}
)

select
    cast(l.channel as {{ dbt.type_string() }}) as channel,
    cast(l.order_id as {{ dbt.type_string() }}) as order_id,
    cast(l.line_id as {{ dbt.type_string() }}) as line_id,
    cast(o.customer_id as {{ dbt.type_string() }}) as customer_id,
    cast(l.ordered_at as timestamp) as ordered_at,
    cast(l.order_date as date) as order_date,
    cast(l.location_id as {{ dbt.type_string() }}) as location_id,
    cast(l.status as {{ dbt.type_string() }}) as status,
    cast(l.is_test as boolean) as is_test,
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
    cast(l.source_row as {{ dbt.type_bigint() }}) as source_row
from lines as l
left join orders as o
    on l.channel = o.channel and l.order_id = o.order_id
