-- Store visitor counters per day.
with source as (
    select * from {{ source('lake', 'footfall') }}
),

latest as (
    {{ latest_delivery('source', ['footfall_date', 'location_id']) }}
),

renamed as (
    select
        channel,
        footfall_date,
        location_id,
        visitors,
        source_file,
        source_row
    from latest
)

select * from renamed
