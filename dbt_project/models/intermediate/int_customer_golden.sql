-- The golden value of each customer attribute from int_customer_attributes: unmasked values
-- before masked ones, then the most trusted source (lowest priority, profiles/identity.yml),
-- then the value seen on most records, then the most recently observed, then the value
-- itself (deterministic). A customer known only by a masked name keeps it masked.
with attributes as (
    select * from {{ ref('int_customer_attributes') }}
),

per_value as (
    -- one row per customer, attribute and value: its best source and how often it was seen
    select *
    from (
        select
            customer_id,
            attribute,
            attribute_value,
            case when is_masked then 1 else 0 end as masked,
            coalesce(priority, 100000) as priority,
            source_entity,
            count(*) over (partition by customer_id, attribute, attribute_value) as records,
            max(observed_at) over (partition by customer_id, attribute, attribute_value)
                as last_observed_at,
            row_number() over (
                partition by customer_id, attribute, attribute_value
                order by coalesce(priority, 100000), observed_at desc, source_entity
            ) as source_rank
        from attributes
    ) as sourced
    where source_rank = 1
),

ranked as (
    select
        *,
        row_number() over (
            partition by customer_id, attribute
            order by masked, priority, records desc, last_observed_at desc, attribute_value
        ) as value_rank
    from per_value
)

select
    cast(customer_id as {{ dbt.type_string() }}) as customer_id,
    cast(max(case when attribute = 'name' then attribute_value end) as {{ dbt.type_string() }})
        as name,
    cast(max(case when attribute = 'name' then masked end) = 1 as boolean) as name_is_masked,
    cast(max(case when attribute = 'gender' then attribute_value end) as {{ dbt.type_string() }})
        as gender,
    cast(max(case when attribute = 'birthday' then attribute_value end) as date) as birthday,
    cast(max(case when attribute = 'city' then attribute_value end) as {{ dbt.type_string() }})
        as city,
    cast(max(case when attribute = 'city' then source_entity end) as {{ dbt.type_string() }})
        as city_source,
    cast(max(case when attribute = 'country' then attribute_value end) as {{ dbt.type_string() }})
        as country
from ranked
where value_rank = 1
group by 1
