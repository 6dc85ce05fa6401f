-- Stores, warehouses and Amazon FBA nodes.
with source as (
    select * from {{ source('lake', 'locations') }}
),

latest as (
    {{ latest_delivery('source', ['location_id']) }}
),

renamed as (
    select
        channel,
        location_id,
        location_type,
        name,
        city,
        country,
        lat,
        lon,
        timezone,
        opened_date,
        source_file,
        source_row
    from latest
)

select * from renamed
