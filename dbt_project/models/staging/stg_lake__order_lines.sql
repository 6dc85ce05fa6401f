-- One row per channel order line (latest delivery wins, as for orders).
with source as (
    select * from {{ source('lake', 'order_lines') }}
),

ranked as (
    select
        *,
        row_number() over (
            partition by channel, order_id, line_id
            order by ingested_at desc, source_file desc
        ) as delivery_rank
    from source
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
        sku,
        product_name,
        quantity,
        unit_price,
        coalesce(discount, 0) as discount,
        net_amount,
        currency,
        source_file,
        source_row
    from ranked
    where delivery_rank = 1
)

select * from renamed
