{{ config(alias='customer_360') }}
-- The 360 profile for marketers: every column but the member number, which is masked.
select
    {{ columns_except(ref('customer_360'), ['member_no']) }},
    {{ mask_id('member_no') }} as member_no
from {{ ref('customer_360') }}
