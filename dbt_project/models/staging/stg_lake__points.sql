-- Points ledger entries.
{{ config(**delivery_incremental(['channel', 'points_txn_id'], 'points')) }}

with source as (
    {{ lake_deliveries('points', ['channel', 'points_txn_id']) }}
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
        ingested_at,
        source_row
    from latest
)

select * from renamed
