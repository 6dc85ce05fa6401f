-- Every identifier seen on a kept lake record, typed and normalised (ingest/identifiers.py).
{{ config(**delivery_incremental(['channel', 'entity', 'record_id', 'field', 'identifier_type', 'identifier_value'], 'identifiers')) }}

with source as (
    {{ lake_deliveries('identifiers', ['channel', 'entity', 'record_id', 'field', 'identifier_type', 'identifier_value']) }}
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
        ingested_at,
        source_row
    from latest
)

select * from renamed
