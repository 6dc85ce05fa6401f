-- One row per channel order. A later delivery of the same order (a re-export, a correction)
-- replaces an earlier one: the latest ingested file wins.
{{ config(**delivery_incremental(['channel', 'order_id'], 'orders')) }}

with source as (
    {{ lake_deliveries('orders', ['channel', 'order_id']) }}
),

latest as (
    {{ latest_delivery('source', ['channel', 'order_id']) }}
),

renamed as (
    select
        channel,
        order_id,
        order_ts as ordered_at,
        business_date as order_date,
        location_id,
        status,
        native_status,
        shipped_at,
        ship_date,
        currency,
        gross_total,
        discount_total,
        shipping_total,
        order_total,
        paid_total,
        coalesce(is_test, false) as is_test,
        buyer_name,
        payment_method,
        anchor_id,
        anchor_name,
        traffic_source,
        ship_province,
        ship_city,
        ship_district,
        ship_street,
        ship_postcode,
        source_file,
        ingested_at,
        source_row
    from latest
)

select * from renamed
