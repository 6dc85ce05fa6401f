-- Daily on-hand snapshots per location and SKU.
with source as (
    select * from {{ source('lake', 'inventory') }}
),

latest as (
    {{ latest_delivery('source', ['snapshot_date', 'location_id', 'sku']) }}
),

renamed as (
    select
        channel,
        snapshot_date,
        location_id,
        sku,
        on_hand,
        reserved,
        in_transit,
        source_file,
        source_row
    from latest
)

select * from renamed
