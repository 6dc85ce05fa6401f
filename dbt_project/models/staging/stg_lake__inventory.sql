-- Daily on-hand snapshots per location and SKU.
{{ config(**delivery_incremental(['snapshot_date', 'location_id', 'sku'], 'inventory')) }}

with source as (
    {{ lake_deliveries('inventory', ['snapshot_date', 'location_id', 'sku']) }}
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
        ingested_at,
        source_row
    from latest
)

select * from renamed
