-- One row per returned line. Sku and location come from the sold line when the channel's
-- refund record does not repeat them (Shopify refunds name only the line item id).
with source as (
    select * from {{ source('lake', 'returns') }}
),

ranked as (
    select
        *,
        row_number() over (
            partition by channel, return_id, line_id
            order by ingested_at desc, source_file desc
        ) as delivery_rank
    from source
),

lines as (
    select channel, order_id, line_id, sku, channel_sku, location_id, is_test
    from {{ ref('stg_lake__order_lines') }}
),

renamed as (
    select
        r.channel,
        r.return_id,
        r.order_id,
        r.line_id,
        r.return_ts as returned_at,
        r.business_date as return_date,
        coalesce(r.location_id, l.location_id) as location_id,
        coalesce(r.channel_sku, l.channel_sku) as channel_sku,
        coalesce(r.sku, l.sku) as sku,
        r.quantity,
        r.amount,
        r.currency,
        coalesce(l.is_test, false) as is_test,
        r.source_file,
        r.source_row
    from ranked as r
    left join lines as l
        on r.channel = l.channel and r.order_id = l.order_id and r.line_id = l.line_id
    where r.delivery_rank = 1
)

select * from renamed
