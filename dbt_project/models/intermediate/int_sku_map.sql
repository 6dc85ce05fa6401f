-- Channel SKU -> master SKU per channel as the lake names channels: marketplace-level
-- entries (amazon_us, amazon_de) roll up to their channel (amazon).
select distinct
    {{ dbt.split_part('sales_channel', "'_'", 1) }} as channel,
    channel_sku,
    sku
from {{ ref('stg_lake__sku_map') }}
