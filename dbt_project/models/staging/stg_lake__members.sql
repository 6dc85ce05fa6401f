-- Loyalty members as the CRM last exported them.
with source as (
    select * from {{ source('lake', 'members') }}
),

latest as (
    {{ latest_delivery('source', ['channel', 'member_no']) }}
),

renamed as (
    select
        channel,
        member_no,
        joined_ts,
        business_date,
        tier,
        join_location_id,
        name,
        gender,
        birthday,
        status,
        points_balance,
        source_file,
        source_row
    from latest
)

select * from renamed
