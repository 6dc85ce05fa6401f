-- Order lines of every channel, complete: order-level fields the line file lacks (Tmall's
-- detail list has no timestamps) come from the order; the master SKU comes from the line
-- when the channel exports it, else from the ERP SKU map. A line whose channel SKU is in
-- no map keeps sku null and is listed by int_unmapped_channel_skus.
with lines as (
    select * from {{ ref('stg_lake__order_lines') }}
),

orders as (
    select * from {{ ref('stg_lake__orders') }}
),

sku_map as (
    select * from {{ ref('int_sku_map') }}
),

joined as (
    select
        l.channel,
        l.order_id,
        l.line_id,
        coalesce(l.ordered_at, o.ordered_at) as ordered_at,
        coalesce(l.order_date, o.order_date) as order_date,
        coalesce(l.location_id, o.location_id) as location_id,
        coalesce(l.status, o.status) as status,
        coalesce(l.is_test, o.is_test, false) as is_test,
        l.channel_sku,
        coalesce(l.sku, m.sku) as sku,
        l.product_name,
        l.quantity,
        l.unit_price,
        l.discount,
        l.net_amount,
        coalesce(l.currency, o.currency) as currency,
        l.source_file,
        l.source_row
    from lines as l
    left join orders as o
        on l.channel = o.channel and l.order_id = o.order_id
    left join sku_map as m
        on l.sku is null and l.channel = m.channel and l.channel_sku = m.channel_sku
)

select * from joined
