-- Behaviour events from every channel (views, searches, carts, live-room actions), latest delivery.
{{ config(**delivery_incremental(['channel', 'event_id'], 'events')) }}

with source as (
    {{ lake_deliveries('events', ['channel', 'event_id']) }}
),

latest as (
    {{ latest_delivery('source', ['channel', 'event_id']) }}
),

renamed as (
    select
        channel,
        event_id,
        event_ts,
        business_date,
        event_type,
        native_event,
        session_id,
        platform,
        channel_sku,
        sku,
        quantity,
        value,
        currency,
        order_id,
        search_query,
        page,
        live_session_id,
        anchor_id,
        user_agent,
        channel_item_id,
        text,
        ip,
        app_version,
        campaign,
        source_file,
        ingested_at,
        source_row
    from latest
)

select * from renamed
