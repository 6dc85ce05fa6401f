-- How far each staged record is trusted as a source of customer attributes: the priority
-- (profiles/identity.yml, lower is more trusted, as identity resolution recorded it in
-- identity.customer_identifiers) of the most trusted identifier the record carries. A CRM
-- member record (member_no, 10) outranks a WeChat order (unionid, 20), a Tmall order (buyer
-- id, 50) and an Amazon contact (e-mail, 75).
-- Only the records of the entities int_customer_attributes takes attributes from
-- (macros/attribute_sources.sql: members, orders, order contacts). The events, social
-- activities, points and consents are none: 2,066,913 of the 2,335,779 identified records of
-- a 33,000-customer demo brand (bench/README.md, "int_record_priorities").
with type_priorities as (
    select identifier_type, scope, min(priority) as priority
    from {{ source('identity', 'customer_identifiers') }}
    group by 1, 2
),

identifiers as (
    select channel, entity, record_id, identifier_type, scope
    from {{ ref('stg_lake__identifiers') }}
    where entity in ({{ "'" ~ attribute_source_entities() | join("', '") ~ "'" }})
)

select
    cast(i.channel as {{ dbt.type_string() }}) as channel,
    cast(i.entity as {{ dbt.type_string() }}) as entity,
    cast(i.record_id as {{ dbt.type_string() }}) as record_id,
    cast(min(t.priority) as {{ dbt.type_bigint() }}) as priority
from identifiers as i
inner join type_priorities as t
    on i.identifier_type = t.identifier_type
    and coalesce(i.scope, '') = coalesce(t.scope, '')
group by 1, 2, 3
