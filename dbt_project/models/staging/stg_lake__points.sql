-- Points ledger entries.
with source as (
    select * from {{ source('lake', 'points') }}
),

latest as (
    {{ latest_delivery('source', ['channel', 'points_txn_id']) }}
),

renamed as (
    select
        channel,
        points_txn_id,
        member_no,
        txn_ts,
        business_date,
        points,
        reason,
        order_id,
        sales_channel,
        location_id,
        source_file,
        source_row
    from latest
)

select * from renamed
