-- One row per channel order line (latest delivery wins, as for orders).
with source as (
    select * from {{ source('lake', 'order_lines') }}
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
        source_row
    from latest
)

select * from renamed
