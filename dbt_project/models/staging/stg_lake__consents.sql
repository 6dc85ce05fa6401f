-- Consent events: purpose granted or revoked, when, from which source.
with source as (
    select * from {{ source('lake', 'consents') }}
),

latest as (
    {{ latest_delivery('source', ['channel', 'consent_id']) }}
),

renamed as (
    select
        channel,
        consent_id,
        consent_ts,
        business_date,
        purpose,
        granted,
        consent_source,
        source_file,
        source_row
    from latest
)

select * from renamed
