-- Daily selling price per SKU per sales channel, with the promotion in force.
with source as (
    select * from {{ source('lake', 'prices') }}
),

latest as (
    {{ latest_delivery('source', ['price_date', 'sales_channel', 'sku']) }}
),

renamed as (
    select
        channel,
        price_date,
        sales_channel,
        sku,
        price,
        list_price,
        currency,
        promo_id,
        source_file,
        source_row
    from latest
)

select * from renamed
