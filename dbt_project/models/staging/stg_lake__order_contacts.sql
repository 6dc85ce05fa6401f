-- Buyer or receiver of an order, delivered apart from the order (e.g. Amazon MFN buyer info).
{{ config(**delivery_incremental(['channel', 'order_id', 'contact_role'], 'order_contacts')) }}

with source as (
    select * from {{ source('lake', 'order_contacts') }}
    {{ new_deliveries_only() }}
),

latest as (
    {{ latest_delivery('source', ['channel', 'order_id', 'contact_role']) }}
),

renamed as (
    select
        channel,
        order_id,
        contact_role,
        name,
        city,
        country,
        source_file,
        ingested_at,
        source_row
    from latest
)

select * from renamed
