-- Daily sales per channel, location and master SKU, in the currency sold.
-- Counted: paid/shipped/completed lines of real orders (test orders, unpaid and cancelled
-- orders excluded), on the order's business date in the channel's time zone. Returns are
-- counted on the day they happened, at the location of the sale.
with lines as (
    select *
    from {{ ref('int_order_lines') }}
    where not is_test
      and status in ('paid', 'shipped', 'completed')
      and sku is not null
),

returns as (
    select *
    from {{ ref('int_returns') }}
    where not is_test
),

sold as (
    select
        order_date as sales_date,
        channel,
        coalesce(location_id, 'UNASSIGNED') as location_id,
        sku,
        currency,
        count(distinct order_id) as orders,
        sum(quantity) as units_sold,
        sum(net_amount) as net_sales
    from lines
    group by 1, 2, 3, 4, 5
),

returned as (
    select
        return_date as sales_date,
        channel,
        coalesce(location_id, 'UNASSIGNED') as location_id,
        coalesce(sku, 'UNKNOWN') as sku,
        currency,
        sum(quantity) as units_returned,
        sum(amount) as returns_amount
    from returns
    group by 1, 2, 3, 4, 5
),

joined as (
    select
        coalesce(s.sales_date, r.sales_date) as sales_date,
        coalesce(s.channel, r.channel) as channel,
        coalesce(s.location_id, r.location_id) as location_id,
        coalesce(s.sku, r.sku) as sku,
        coalesce(s.currency, r.currency) as currency,
        coalesce(s.orders, 0) as orders,
        coalesce(s.units_sold, 0) as units_sold,
        coalesce(s.net_sales, 0) as net_sales,
        coalesce(r.units_returned, 0) as units_returned,
        coalesce(r.returns_amount, 0) as returns_amount
    from sold as s
    full outer join returned as r
        on s.sales_date = r.sales_date
        and s.channel = r.channel
        and s.location_id = r.location_id
        and s.sku = r.sku
        and s.currency = r.currency
)

select
    {{ dbt.concat([
        dbt.cast("sales_date", dbt.type_string()), "'|'", "channel", "'|'",
        "location_id", "'|'", "sku", "'|'", "currency"
    ]) }} as daily_sales_id,
    cast(sales_date as date) as sales_date,
    cast(channel as {{ dbt.type_string() }}) as channel,
    cast(location_id as {{ dbt.type_string() }}) as location_id,
    cast(sku as {{ dbt.type_string() }}) as sku,
    cast(currency as {{ dbt.type_string() }}) as currency,
    cast(orders as {{ dbt.type_bigint() }}) as orders,
    cast(units_sold as {{ dbt.type_bigint() }}) as units_sold,
    cast(net_sales as decimal(18, 2)) as net_sales,
    cast(units_returned as {{ dbt.type_bigint() }}) as units_returned,
    cast(returns_amount as decimal(18, 2)) as returns_amount
from joined
