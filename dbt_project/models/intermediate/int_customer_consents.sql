-- Consent per customer and purpose, propagated through OneID. A consent record names one
-- identifier (phone, e-mail, unionid) and identity resolution gives that record its customer
-- (identity.record_customers). For each identifier and purpose the latest record holds (on a
-- tie, a revocation); across a customer's identifiers the most restrictive holds: revoked if
-- any identifier's latest is revoked, else granted if any is granted. No record: unknown.
with consents as (
    select * from {{ ref('stg_lake__consents') }}
),

record_customers as (
    select channel, record_id, customer_id
    from {{ source('identity', 'record_customers') }}
    where entity = 'consents' and customer_id is not null
),

identifiers as (
    select channel, record_id, min(identifier_type || ':' || identifier_value) as identifier
    from {{ ref('stg_lake__identifiers') }}
    where entity = 'consents'
    group by 1, 2
),

latest_per_identifier as (
    select customer_id, purpose, granted
    from (
        select
            rc.customer_id,
            c.purpose,
            c.granted,
            row_number() over (
                partition by rc.customer_id, coalesce(i.identifier, c.consent_id), c.purpose
                order by c.consent_ts desc, case when c.granted then 1 else 0 end, c.consent_id desc
            ) as recency_rank
        from consents as c
        inner join record_customers as rc
            on c.channel = rc.channel and c.consent_id = rc.record_id
        left join identifiers as i
            on c.channel = i.channel and c.consent_id = i.record_id
        where c.granted is not null
    ) as ranked
    where recency_rank = 1
),

per_purpose as (
    select
        customer_id,
        purpose,
        case
            when sum(case when not granted then 1 else 0 end) > 0 then 'revoked'
            else 'granted'
        end as status
    from latest_per_identifier
    group by 1, 2
)

select
    cast(customer_id as {{ dbt.type_string() }}) as customer_id,
    cast(coalesce(max(case when purpose = 'email' then status end), 'unknown') as {{ dbt.type_string() }}) as consent_email,
    cast(coalesce(max(case when purpose = 'sms' then status end), 'unknown') as {{ dbt.type_string() }}) as consent_sms,
    cast(coalesce(max(case when purpose = 'wechat' then status end), 'unknown') as {{ dbt.type_string() }}) as consent_wechat,
    cast(coalesce(max(case when purpose = 'ads' then status end), 'unknown') as {{ dbt.type_string() }}) as consent_ads
from per_purpose
group by 1
