{{ config(alias='dim_customers') }}
-- What a marketer may see of a customer: the golden record with phone, e-mail and name
-- masked and the birthday as an age band. The unmasked table stays in marts (data engineers).
select
    customer_id,
    {{ mask_phone('phone') }} as phone,
    {{ mask_email('email') }} as email,
    {{ mask_name('name') }} as name,
    gender,
    {{ age_band('birthday', 'current_date') }} as age_band,
    city,
    country,
    first_seen,
    last_seen,
    first_order_date,
    last_order_date,
    orders,
    channels_used,
    channels
from {{ ref('dim_customers') }}
