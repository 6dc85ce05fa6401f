-- Every identifier seen on a kept lake record, typed and normalised (ingest/identifiers.py).
with source as (
    select * from {{ source('lake', 'identifiers') }}
),

latest as (
    {{ latest_delivery('source', ['channel', 'entity', 'record_id', 'field', 'identifier_type', 'identifier_value']) }}
),

renamed as (
    select
        channel,
        entity,
        record_id,
        field,
        identifier_type,
        identifier_value,
        is_partial,
        scope,
        source_file,
        source_row
    from latest
)

select * from renamed
