-- Buyer or receiver of an order, delivered apart from the order (e.g. Amazon MFN buyer info).
with source as (
    select * from {{ source('lake', 'order_contacts') }}
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
        source_row
    from latest
)

select * from renamed
