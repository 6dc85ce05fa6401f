-- Channel fee schedules: commissions, payment, fulfilment and host fees.
with source as (
    select * from {{ source('lake', 'fees') }}
),

latest as (
    {{ latest_delivery('source', ['sales_channel', 'fee_type', 'host_id', 'currency', 'valid_from']) }}
),

renamed as (
    select
        channel,
        sales_channel,
        fee_type,
        host_id,
        rate,
        fixed_fee,
        currency,
        valid_from,
        valid_to,
        note,
        source_file,
        source_row
    from latest
)

select * from renamed
