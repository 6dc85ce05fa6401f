-- One row per customer_id that identity resolution issued (identity.customer_identifiers).
-- Orders: the customer's real orders in fct_orders (not test, not a brushing suspect, paid,
-- shipped or completed). Golden phone and e-mail: the customer's best identifier of the type,
-- full values before partial (masked) ones, then by priority (profiles/identity.yml), then
-- by the number of records carrying it, then the most recently seen; a customer known only
-- by a masked phone keeps it masked. Name, gender, birthday, city and country: the golden
-- values of int_customer_golden (unmasked first, then source priority, records, recency).
with identifiers as (
    select * from {{ source('identity', 'customer_identifiers') }}
    where customer_id is not null
),

customers as (
    select
        customer_id,
        min(first_seen) as first_seen,
        max(last_seen) as last_seen,
        sum(case when not is_partial then 1 else 0 end) as identifiers
    from identifiers
    group by 1
),

ranked_contacts as (
    select
        customer_id,
        identifier_type,
        identifier_value,
        is_partial,
        row_number() over (
            partition by customer_id, identifier_type
            order by
                case when is_partial then 1 else 0 end,
                priority,
                records desc,
                last_seen desc nulls last,
                identifier_value
        ) as value_rank
    from identifiers
    where identifier_type in ('phone', 'email')
),

golden as (
    select
        customer_id,
        max(case when identifier_type = 'phone' then identifier_value end) as phone,
        max(case when identifier_type = 'phone' then case when is_partial then 1 else 0 end end) as phone_masked,
        max(case when identifier_type = 'email' then identifier_value end) as email,
        max(case when identifier_type = 'email' then case when is_partial then 1 else 0 end end) as email_masked
    from ranked_contacts
    where value_rank = 1
    group by 1
),

real_orders as (
    select o.*
    from {{ ref('fct_orders') }} as o
    where o.customer_id is not null and {{ is_real_order('o') }}
),

order_stats as (
    select
        customer_id,
        min(order_date) as first_order_date,
        max(order_date) as last_order_date,
        count(*) as orders,
        count(distinct channel) as channels_used,
        {{ listagg_distinct("channel", "','") }} as channels
    from real_orders
    group by 1
)

select
    cast(c.customer_id as {{ dbt.type_string() }}) as customer_id,
    cast(g.phone as {{ dbt.type_string() }}) as phone,
    cast(coalesce(g.phone_masked, 0) = 1 as boolean) as phone_is_masked,
    cast(g.email as {{ dbt.type_string() }}) as email,
    cast(coalesce(g.email_masked, 0) = 1 as boolean) as email_is_masked,
    cast(gr.name as {{ dbt.type_string() }}) as name,
    cast(coalesce(gr.name_is_masked, false) as boolean) as name_is_masked,
    cast(gr.gender as {{ dbt.type_string() }}) as gender,
    cast(gr.birthday as date) as birthday,
    cast(gr.city as {{ dbt.type_string() }}) as city,
    cast(gr.city_source as {{ dbt.type_string() }}) as city_source,
    cast(gr.country as {{ dbt.type_string() }}) as country,
    cast(c.identifiers as {{ dbt.type_bigint() }}) as identifiers,
    cast(c.first_seen as timestamp) as first_seen,
    cast(c.last_seen as timestamp) as last_seen,
    cast(s.first_order_date as date) as first_order_date,
    cast(s.last_order_date as date) as last_order_date,
    cast(coalesce(s.orders, 0) as {{ dbt.type_bigint() }}) as orders,
    cast(coalesce(s.channels_used, 0) as {{ dbt.type_bigint() }}) as channels_used,
    cast(s.channels as {{ dbt.type_string() }}) as channels
from customers as c
left join golden as g
    on c.customer_id = g.customer_id
left join order_stats as s
    on c.customer_id = s.customer_id
left join {{ ref('int_customer_golden') }} as gr
    on c.customer_id = gr.customer_id
