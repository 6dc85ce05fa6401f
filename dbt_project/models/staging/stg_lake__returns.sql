-- One row per returned or refunded line, as the channel reported it (latest delivery).
-- Sku and location are resolved in int_returns when the channel does not repeat them.
{{ config(**delivery_incremental(['channel', 'return_id', 'line_id'], 'returns')) }}

with source as (
    {{ lake_deliveries('returns', ['channel', 'return_id', 'line_id']) }}
),

latest as (
    {{ latest_delivery('source', ['channel', 'return_id', 'line_id']) }}
),

renamed as (
    select
        channel,
        return_id,
        order_id,
        line_id,
        return_ts as returned_at,
        business_date as return_date,
        location_id,
        channel_sku,
        sku,
        quantity,
        amount,
        currency,
        source_file,
        ingested_at,
        source_row
    from latest
)

select * from renamed
