-- Returns with sku, location and currency resolved: from the return when the channel states them,
-- else from the sold line (Shopify refunds name only the line item), else from the SKU map.
with returns as (
    select * from {{ ref('stg_lake__returns') }}
),

lines as (
    select channel, order_id, line_id, sku, location_id, currency, is_test
    from {{ ref('int_order_lines') }}
),

sku_map as (
    select * from {{ ref('int_sku_map') }}
),

joined as (
    select
        r.channel,
        r.return_id,
        r.order_id,
        r.line_id,
        r.returned_at,
        r.return_date,
        coalesce(r.location_id, l.location_id) as location_id,
        r.channel_sku,
        coalesce(r.sku, l.sku, m.sku) as sku,
        r.quantity,
        r.amount,
        coalesce(r.currency, l.currency) as currency,
        coalesce(l.is_test, false) as is_test,
        r.source_file,
        r.source_row
    from returns as r
    left join lines as l
        on r.channel = l.channel and r.order_id = l.order_id and r.line_id = l.line_id
    left join sku_map as m
        on r.sku is null and r.channel = m.channel and r.channel_sku = m.channel_sku
)

select * from joined
