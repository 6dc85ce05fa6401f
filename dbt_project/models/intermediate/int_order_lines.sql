-- Order lines of every channel, complete:
--  * order-level fields the line file lacks (Tmall's detail list has no timestamps) come
--    from the order;
--  * the master SKU comes from the line when the channel exports it and the product master
--    knows it (or no product master has arrived), else from the ERP SKU map; a line whose
--    SKU is in neither keeps sku null (int_unmapped_channel_skus), never sold under a code
--    no product carries;
--  * where a channel gives no line discount (Tmall, JD), the order's discount is allocated
--    to its lines in proportion to their gross, each share cut down to the cent, the
--    remainder on the first line of the order in the file (shares never exceed the discount).
-- Incremental per order (macros/incremental_orders.sql): a new day rebuilds the orders its
-- lake files name; a change of the SKU map or the products rebuilds every order.
{{ config(**order_incremental(
    ['stg_lake__order_lines', 'stg_lake__orders'], ['int_sku_map', 'stg_lake__products']
)) }}

with lines as (
    select * from {{ ref('stg_lake__order_lines') }} as l
    where {{ changed_orders('l') }}
),

orders as (
    select * from {{ ref('stg_lake__orders') }} as o
    where {{ changed_orders('o') }}
),

sku_map as (
    select * from {{ ref('int_sku_map') }}
),

products as (
    select sku from {{ ref('stg_lake__products') }}
),

joined as (
    select
        l.channel,
        l.order_id,
        l.line_id,
        coalesce(l.ordered_at, o.ordered_at) as ordered_at,
        coalesce(l.order_date, o.order_date) as order_date,
        coalesce(l.location_id, o.location_id) as location_id,
        coalesce(l.status, o.status) as status,
        coalesce(l.is_test, o.is_test, false) as is_test,
        l.channel_sku,
        l.channel_item_id,
        case
            when l.sku is null then m.sku
            when p.sku is not null or (select count(*) from products) = 0 then l.sku
        end as sku,
        l.product_name,
        l.quantity,
        l.unit_price,
        coalesce(l.line_total, l.unit_price * l.quantity) as line_total,
        l.discount,
        l.net_amount,
        o.discount_total as order_discount,
        coalesce(l.currency, o.currency) as currency,
        l.source_file,
        l.source_row
    from lines as l
    left join orders as o
        on l.channel = o.channel and l.order_id = o.order_id
    left join sku_map as m
        on l.sku is null and l.channel = m.channel and l.channel_sku = m.channel_sku
    left join products as p
        on l.sku = p.sku
),

shares as (
    select
        *,
        case
            when discount is null and net_amount is null
                then coalesce(
                    floor(
                        100 * order_discount * line_total
                        / nullif(sum(case when discount is null and net_amount is null then line_total end)
                            over (partition by channel, order_id), 0)
                    ) / 100,
                    0
                )
        end as discount_share,
        row_number() over (
            partition by channel, order_id,
                case when discount is null and net_amount is null then 1 else 0 end
            order by source_file, source_row
        ) as line_rank
    from joined
),

allocated as (
    select
        *,
        case
            when discount_share is null then discount
            when line_rank = 1
                then discount_share + coalesce(order_discount, 0)
                    - sum(discount_share) over (partition by channel, order_id)
            else discount_share
        end as allocated_discount
    from shares
)

select
    channel,
    order_id,
    line_id,
    ordered_at,
    order_date,
    location_id,
    status,
    is_test,
    channel_sku,
    channel_item_id,
    sku,
    product_name,
    quantity,
    unit_price,
    line_total,
    cast(allocated_discount as decimal(18, 2)) as discount,
    cast(coalesce(net_amount, line_total - allocated_discount) as decimal(18, 2)) as net_amount,
    currency,
    discount is null and net_amount is null as discount_allocated,
    source_file,
    source_row
from allocated
