-- Every observed value of a customer attribute (name, gender, birthday, city, country), long,
-- with where it came from, how far that source is trusted (int_record_priorities: the
-- priority of the record's most trusted identifier) and when it was observed. Sources: the
-- CRM member record (name, gender, birthday; observed at the snapshot date), every order's
-- buyer name (observed when ordered), order contacts delivered in their own file (name,
-- city, country), and as a fallback for city only the city of the store the member joined
-- at (priority 1000: a place they shop, not an address). Masked values (with '*', as
-- marketplaces write names) are flagged, never unmasked. int_customer_golden picks one.
-- A new source entity here goes into macros/attribute_sources.sql too (int_record_priorities
-- ranks the records of those entities only).
with members as (
    select m.member_no, m.name, m.gender, m.birthday, m.business_date, m.join_location_id,
        mc.customer_id
    from {{ ref('stg_lake__members') }} as m
    inner join {{ ref('int_member_customers') }} as mc
        on m.member_no = mc.member_no
    where mc.customer_id is not null
),

priorities as (
    select * from {{ ref('int_record_priorities') }}
),

orders as (
    select o.channel, o.order_id, o.customer_id, o.ordered_at, s.buyer_name
    from {{ ref('fct_orders') }} as o
    inner join {{ ref('stg_lake__orders') }} as s
        on o.channel = s.channel and o.order_id = s.order_id
    where o.customer_id is not null
),

contacts as (
    select
        o.customer_id,
        o.ordered_at,
        c.channel,
        c.order_id,
        c.contact_role,
        c.name,
        c.city,
        c.country
    from {{ ref('stg_lake__order_contacts') }} as c
    inner join orders as o
        on c.channel = o.channel and c.order_id = o.order_id
),

member_priority as (
    select record_id as member_no, priority
    from priorities
    where entity = 'members'
),

observed as (
    select m.customer_id, 'name' as attribute, m.name as attribute_value,
        'members' as source_entity, 'crm' as channel, p.priority,
        cast(m.business_date as timestamp) as observed_at
    from members as m left join member_priority as p on m.member_no = p.member_no
    union all
    select m.customer_id, 'gender', m.gender, 'members', 'crm', p.priority,
        cast(m.business_date as timestamp)
    from members as m left join member_priority as p on m.member_no = p.member_no
    union all
    select m.customer_id, 'birthday', cast(m.birthday as {{ dbt.type_string() }}), 'members',
        'crm', p.priority, cast(m.business_date as timestamp)
    from members as m left join member_priority as p on m.member_no = p.member_no
    union all
    select m.customer_id, 'city', l.city, 'member_join_store', 'crm', 1000,
        cast(m.business_date as timestamp)
    from members as m
    inner join {{ ref('stg_lake__locations') }} as l
        on m.join_location_id = l.location_id and l.location_type = 'store'
    union all
    select o.customer_id, 'name', o.buyer_name, 'orders', o.channel, p.priority, o.ordered_at
    from orders as o
    left join priorities as p
        on p.entity = 'orders' and o.channel = p.channel and o.order_id = p.record_id
    union all
    select c.customer_id, a.attribute,
        case a.attribute when 'name' then c.name when 'city' then c.city else c.country end,
        'order_contacts', c.channel, p.priority, c.ordered_at
    from contacts as c
    cross join (
        select 'name' as attribute union all select 'city' union all select 'country'
    ) as a
    left join priorities as p
        on p.entity = 'order_contacts'
        and c.channel = p.channel
        and p.record_id = {{ dbt.concat(["c.order_id", "'/'", "c.contact_role"]) }}
)

select
    cast(customer_id as {{ dbt.type_string() }}) as customer_id,
    cast(attribute as {{ dbt.type_string() }}) as attribute,
    cast(trim(attribute_value) as {{ dbt.type_string() }}) as attribute_value,
    cast(attribute_value like '%*%' as boolean) as is_masked,
    cast(source_entity as {{ dbt.type_string() }}) as source_entity,
    cast(channel as {{ dbt.type_string() }}) as channel,
    cast(priority as {{ dbt.type_bigint() }}) as priority,
    cast(observed_at as timestamp) as observed_at
from observed
where attribute_value is not null and trim(attribute_value) <> ''
