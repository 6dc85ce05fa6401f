-- Cohort retention: per acquisition channel (ops_customer_journeys) x first-order month x
-- month k since it (0 = the first-order month), the customers of the cohort and how many of
-- them placed a real order (is_real_order) in month k on any channel; share = active / cohort.
-- Month 0 is 1 by definition. A month is complete when its last day is on or before
-- as_of_date (the last day with a real order): a later month is right-censored, carried with
-- is_complete = false so curves can stop at the last complete month.
with journeys as (
    select customer_id, acquisition_channel, first_order_month, as_of_date
    from {{ ref('ops_customer_journeys') }}
),

orders as (
    select distinct
        o.customer_id,
        cast({{ dbt.date_trunc('month', 'o.order_date') }} as date) as order_month
    from {{ ref('fct_orders') }} as o
    where o.customer_id is not null and {{ is_real_order('o') }}
),

months as (
    select distinct order_month as calendar_month from orders
),

cohorts as (
    select
        acquisition_channel,
        first_order_month,
        max(as_of_date) as as_of_date,
        count(*) as cohort_customers
    from journeys
    group by 1, 2
),

grid as (
    select
        c.acquisition_channel,
        c.first_order_month,
        c.cohort_customers,
        c.as_of_date,
        m.calendar_month,
        {{ dbt.datediff('c.first_order_month', 'm.calendar_month', 'month') }} as month_k
    from cohorts as c
    inner join months as m
        on m.calendar_month >= c.first_order_month
),

active as (
    select
        j.acquisition_channel,
        j.first_order_month,
        o.order_month as calendar_month,
        count(distinct j.customer_id) as active_customers
    from journeys as j
    inner join orders as o
        on j.customer_id = o.customer_id and o.order_month >= j.first_order_month
    group by 1, 2, 3
)

select
    cast(g.acquisition_channel as {{ dbt.type_string() }}) as acquisition_channel,
    cast(g.first_order_month as date) as cohort_month,
    cast(g.month_k as {{ dbt.type_bigint() }}) as month_k,
    cast(g.calendar_month as date) as calendar_month,
    cast(g.cohort_customers as {{ dbt.type_bigint() }}) as cohort_customers,
    cast(coalesce(a.active_customers, 0) as {{ dbt.type_bigint() }}) as active_customers,
    cast(1.0 * coalesce(a.active_customers, 0) / g.cohort_customers as double) as share,
    cast(
        {{ dbt.dateadd('day', -1, dbt.dateadd('month', 1, 'g.calendar_month')) }} <= g.as_of_date
        as boolean
    ) as is_complete
from grid as g
left join active as a
    on g.acquisition_channel = a.acquisition_channel
    and g.first_order_month = a.first_order_month
    and g.calendar_month = a.calendar_month
