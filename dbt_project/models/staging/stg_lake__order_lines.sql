-- One row per channel order line (latest delivery wins, as for orders).
{{ config(**delivery_incremental(['channel', 'order_id', 'line_id'], 'order_lines')) }}

with source as (
    {{ lake_deliveries('order_lines', ['channel', 'order_id', 'line_id']) }}
),

latest as (
    {{ latest_delivery('source', ['channel', 'order_id', 'line_id']) }}
),

renamed as (
    select
        channel,
        order_id,
        line_id,
        order_ts as ordered_at,
        business_date as order_date,
        location_id,
        status,
        coalesce(is_test, false) as is_test,
        channel_sku,
        channel_item_id,
        sku,
        product_name,
        quantity,
        unit_price,
        line_total,
        discount,
        net_amount,
        currency,
        source_file,
        ingested_at,
        source_row
    from latest
)

select * from renamed
