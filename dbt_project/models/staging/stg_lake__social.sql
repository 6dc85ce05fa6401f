-- Brand-account social activity (follows, likes, comments, shares) per platform account.
{{ config(**delivery_incremental(['channel', 'activity_id'], 'social')) }}

with source as (
    {{ lake_deliveries('social', ['channel', 'activity_id']) }}
),

latest as (
    {{ latest_delivery('source', ['channel', 'activity_id']) }}
),

renamed as (
    select
        channel,
        activity_id,
        activity_ts,
        business_date,
        platform,
        activity_type,
        account_id,
        content_id,
        text,
        staff_id,
        location_id,
        source_file,
        ingested_at,
        source_row
    from latest
)

select * from renamed
