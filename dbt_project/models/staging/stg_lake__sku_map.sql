-- Channel SKU to master SKU, per sales channel (amazon per marketplace: amazon_us, amazon_de...).
with source as (
    select * from {{ source('lake', 'sku_map') }}
),

latest as (
    {{ latest_delivery('source', ['sales_channel', 'channel_sku']) }}
),

renamed as (
    select
        channel,
        sales_channel,
        channel_sku,
        channel_item_id,
        sku,
        source_file,
        source_row
    from latest
)

select * from renamed
