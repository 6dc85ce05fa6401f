-- Consent per customer and purpose, propagated through OneID from the current state of each
-- identifier (int_consent_state): across a customer's identifiers the most restrictive
-- holds: revoked if any identifier's latest is revoked, else granted if any is granted. No
-- event: unknown. Read by customer_360 and by the segment exports
-- (models/segments/consent.py), so export-time consent follows this one rule.
with per_purpose as (
    select
        customer_id,
        purpose,
        case
            when sum(case when status = 'revoked' then 1 else 0 end) > 0 then 'revoked'
            else 'granted'
        end as status
    from {{ ref('int_consent_state') }}
    where customer_id is not null
    group by 1, 2
)

select
    cast(customer_id as {{ dbt.type_string() }}) as customer_id,
    cast(coalesce(max(case when purpose = 'email' then status end), 'unknown') as {{ dbt.type_string() }}) as consent_email,
    cast(coalesce(max(case when purpose = 'sms' then status end), 'unknown') as {{ dbt.type_string() }}) as consent_sms,
    cast(coalesce(max(case when purpose = 'wechat' then status end), 'unknown') as {{ dbt.type_string() }}) as consent_wechat,
    cast(coalesce(max(case when purpose = 'ads' then status end), 'unknown') as {{ dbt.type_string() }}) as consent_ads,
    cast(coalesce(max(case when purpose = 'cross_border' then status end), 'unknown') as {{ dbt.type_string() }}) as consent_cross_border
from per_purpose
group by 1
