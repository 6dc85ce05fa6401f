-- Buyer or receiver of an order, delivered apart from the order (e.g. Amazon MFN buyer info).
{{ config(**delivery_incremental(['channel', 'order_id', 'contact_role'], 'order_contacts')) }}

with source as (
    {{ lake_deliveries('order_contacts', ['channel', 'order_id', 'contact_role']) }}
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
