-- The CRM membership of each customer: its first-ranked member record (int_member_customers).
select
    customer_id,
    member_no,
    member_tier,
    member_status,
    crm_points_balance,
    joined_at,
    join_location_id,
    member_records
from {{ ref('int_member_customers') }}
where customer_id is not null and member_rank = 1
