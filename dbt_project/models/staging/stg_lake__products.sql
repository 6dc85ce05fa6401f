-- Product master: one row per master SKU.
with source as (
    select * from {{ source('lake', 'products') }}
),

latest as (
    {{ latest_delivery('source', ['sku']) }}
),

renamed as (
    select
        channel,
        sku,
        name_zh,
        name_en,
        category,
        brand_line,
        unit_cost,
        list_price,
        currency,
        launch_date,
        discontinued_date,
        repurchase_cycle_days,
        source_file,
        source_row
    from latest
)

select * from renamed
