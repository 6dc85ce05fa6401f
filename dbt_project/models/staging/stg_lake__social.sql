-- Brand-account social activity (follows, likes, comments, shares) per platform account.
with source as (
    select * from {{ source('lake', 'social') }}
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
        source_row
    from latest
)

select * from renamed
