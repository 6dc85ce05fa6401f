-- Reference rates (seed fx_rates_monthly) as validity ranges: a rate holds from its month to
-- the next month listed for its currency; the first month of a currency also covers every
-- earlier date and the last one every later date, so that a date outside the seed still
-- converts (at the nearest month's rate) instead of silently dropping the amount.
with rates as (
    select
        currency,
        month,
        rate_to_cny,
        row_number() over (partition by currency order by month) as month_rank,
        lead(month) over (partition by currency order by month) as next_month
    from {{ ref('fx_rates_monthly') }}
)

select
    cast(currency as {{ dbt.type_string() }}) as currency,
    cast(case when month_rank = 1 then cast('1900-01-01' as date) else month end as date)
        as valid_from,
    cast(coalesce(next_month, cast('9999-12-31' as date)) as date) as valid_to,
    cast(month as date) as rate_month,
    cast(rate_to_cny as decimal(18, 6)) as rate_to_cny
from rates
