-- Daily weather per city.
with source as (
    select * from {{ source('lake', 'weather') }}
),

latest as (
    {{ latest_delivery('source', ['weather_date', 'city']) }}
),

renamed as (
    select
        channel,
        weather_date,
        city,
        temp_max_c,
        temp_min_c,
        precipitation_mm,
        condition,
        source_file,
        source_row
    from latest
)

select * from renamed
