-- One row per customer and channel they bought on: first and last real order, orders, units,
-- sales, refunds and revenue in CNY (real orders as in customer_360: not a test, not a
-- brushing suspect; paid, shipped or completed).
with orders as (
    select o.*
    from {{ ref('fct_orders') }} as o
    where o.customer_id is not null and {{ is_real_order('o') }}
)

select
    cast(customer_id as {{ dbt.type_string() }}) as customer_id,
    cast(channel as {{ dbt.type_string() }}) as channel,
    cast(min(order_date) as date) as first_order_date,
    cast(max(order_date) as date) as last_order_date,
    cast(min(ordered_at) as timestamp) as first_ordered_at,
    cast(max(ordered_at) as timestamp) as last_ordered_at,
    cast(count(*) as {{ dbt.type_bigint() }}) as orders,
    cast(sum(units) as {{ dbt.type_bigint() }}) as units,
    cast(sum(coalesce(net_amount_cny, 0)) as decimal(18, 2)) as sales_cny,
    cast(sum(returned_amount_cny) as decimal(18, 2)) as returned_cny,
    cast(sum(coalesce(net_amount_cny, 0)) - sum(returned_amount_cny) as decimal(18, 2))
        as revenue_cny
from orders
group by customer_id, channel
