-- Order lines whose channel SKU maps to no master SKU, with the file and row they came
-- from: add the SKU to the ERP map (erp/sku_map.csv) or fix the listing.
select
    channel,
    channel_sku,
    product_name,
    order_id,
    line_id,
    source_file,
    source_row
from {{ ref('int_order_lines') }}
where sku is null
