-- Category and brand-line affinities, long: one row per customer, dimension ('category' or
-- 'brand_line') and value they bought. share_of_sales is the value's share of the customer's
-- sales (CNY) in that dimension; lift divides it by the value's share of all customers'
-- sales (above 1: the customer leans to it more than the base does); affinity_rank 1 is the
-- customer's top value (by sales, then units, then name). Real order lines only.
with lines as (
    select o.customer_id, o.channel, o.order_id, l.sku, l.quantity, l.net_amount_cny
    from {{ ref('fct_order_lines') }} as l
    inner join {{ ref('fct_orders') }} as o
        on l.channel = o.channel and l.order_id = o.order_id
    where o.customer_id is not null and {{ is_real_order('o') }}
),

products as (
    select sku, category, brand_line from {{ ref('stg_lake__products') }}
),

long_lines as (
    select l.customer_id, l.channel, l.order_id, l.quantity, l.net_amount_cny,
        'category' as dimension, p.category as dimension_value
    from lines as l
    inner join products as p on l.sku = p.sku
    where p.category is not null
    union all
    select l.customer_id, l.channel, l.order_id, l.quantity, l.net_amount_cny,
        'brand_line' as dimension, p.brand_line as dimension_value
    from lines as l
    inner join products as p on l.sku = p.sku
    where p.brand_line is not null
),

per_value as (
    select
        customer_id,
        dimension,
        dimension_value,
        count(distinct channel || '/' || order_id) as orders,
        sum(quantity) as units,
        sum(net_amount_cny) as sales_cny
    from long_lines
    group by 1, 2, 3
),

base as (
    -- shares in double precision on every engine (as DuckDB divides decimals; Spark would
    -- keep a decimal rounded to 6 places)
    select
        dimension,
        dimension_value,
        cast(sum(sales_cny) as double) / sum(sum(sales_cny)) over (partition by dimension) as base_share
    from per_value
    group by 1, 2
),

shares as (
    select
        v.*,
        case
            when sum(v.sales_cny) over (partition by v.customer_id, v.dimension) > 0
                then cast(v.sales_cny as double) / sum(v.sales_cny) over (partition by v.customer_id, v.dimension)
        end as share_of_sales,
        row_number() over (
            partition by v.customer_id, v.dimension
            order by v.sales_cny desc, v.units desc, v.dimension_value
        ) as affinity_rank
    from per_value as v
)

select
    cast(s.customer_id as {{ dbt.type_string() }}) as customer_id,
    cast(s.dimension as {{ dbt.type_string() }}) as dimension,
    cast(s.dimension_value as {{ dbt.type_string() }}) as dimension_value,
    cast(s.orders as {{ dbt.type_bigint() }}) as orders,
    cast(s.units as {{ dbt.type_bigint() }}) as units,
    cast(s.sales_cny as decimal(18, 2)) as sales_cny,
    cast(s.share_of_sales as double) as share_of_sales,
    cast(case when b.base_share > 0 then s.share_of_sales / b.base_share end as double) as lift,
    cast(s.affinity_rank as {{ dbt.type_bigint() }}) as affinity_rank
from shares as s
inner join base as b
    on s.dimension = b.dimension and s.dimension_value = b.dimension_value
