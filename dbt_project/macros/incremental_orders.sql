{#-
  Order-keyed incremental models (int_order_lines, fct_orders, fct_order_lines): a new day
  rebuilds only the orders (channel, order_id) that the day's lake files touch, not every
  order.

  Per model, a table `<model>__inputs` holds what the table was built from: the ledgers of
  the incremental staging models it reads (`<stg model>__lake_files`, macros/
  incremental_deliveries.sql: one row per lake file with its size and time) and a
  fingerprint (a sum of row hashes) of each small input read whole (the SKU map, the
  products, the FX rates). A run of the day (`zhongtai materialize --incremental`, the lake
  sensor's runs: env ZHONGTAI_DBT_RUN=day, set by orchestration/defs/transform.py):
  1. compares the ledgers and fingerprints with those inputs, in a pre-hook. Only new lake
     files: the orders their rows name (in any of the ledgered staging models) are the
     changed keys, with those the macro named `extra_keys` selects (the orders whose
     customer changed when identity resolved their records again). Anything else (no inputs recorded, a lake file changed in place or gone: a
     correction, a retention purge, an erasure; a fingerprint changed) rebuilds every order;
  2. deletes the changed orders' rows; the model selects the rows of those orders only
     (`changed_orders`), appended;
  3. records the inputs (post-hook, same transaction).
  Every other run (a full build, `zhongtai materialize`, the daily schedule) rebuilds every
  order. The result equals a full build on the same tables (tests/orchestration/
  test_incremental.py). A change of the model's SQL needs a full build.

  Usage, in the model:
      {{ config(**order_incremental(['stg_lake__orders'], ['int_fx_rates'])) }}
      ... from {{ ref('stg_lake__orders') }} as o where {{ changed_orders('o') }}
-#}

{% macro order_incremental(ledgers, fingerprints, extra_keys=none) %}
    {{ return(adapter.dispatch('order_incremental')(ledgers, fingerprints, extra_keys)) }}
{% endmacro %}

{% macro default__order_incremental(ledgers, fingerprints, extra_keys) %}
    {{ return({
        'materialized': 'incremental',
        'incremental_strategy': 'append',
        'on_schema_change': 'fail',
        'pre_hook': "{{ take_changed_orders(" ~ ledgers ~ ", " ~ fingerprints ~ ", "
            ~ ((extra_keys ~ "()") if extra_keys else "none") ~ ") }}",
        'post_hook': "{{ record_order_inputs() }}",
    }) }}
{% endmacro %}

{#- Spark on plain Parquet has no delete: a table rebuilt in full (same rows). -#}
{% macro spark__order_incremental(ledgers, fingerprints, extra_keys) %}
    {{ return({'materialized': 'table'}) }}
{% endmacro %}

{%- macro _order_scratch() -%}
    {{ return([this.identifier ~ '__inputs_now', this.identifier ~ '__new_files',
               this.identifier ~ '__changed']) }}
{%- endmacro -%}

{%- macro _order_inputs() -%}
    {{ this.schema }}.{{ this.identifier }}__inputs
{%- endmacro -%}

{#- The inputs table's one definition, created when missing: by the pre-hook on a table
    that exists (built before the inputs were recorded), by the post-hook of every run. -#}
{%- macro _create_order_inputs() -%}
    create table if not exists {{ _order_inputs() }} (
        input varchar, lake_file varchar, source_file varchar, size bigint,
        modified timestamptz, fingerprint hugeint
    );
{%- endmacro -%}

{%- macro _rebuild_all() -%}
    getvariable('{{ this.identifier }}__rebuild_all')
{%- endmacro -%}

{#- The model's filter: the rows of the changed orders (every row outside a run of the day;
    a dbt unit test, which has no `this`, reads every row it is given). -#}
{% macro changed_orders(alias) %}
    {%- if this is not none and is_incremental() -%}
    ({{ _rebuild_all() }} or exists (
        select 1 from {{ _order_scratch()[2] }} as changed
        where changed.channel = {{ alias }}.channel and changed.order_id = {{ alias }}.order_id
    ))
    {%- else -%}
    true
    {%- endif -%}
{% endmacro %}

{#- Pre-hook: the inputs now, the changed orders, their rows deleted. -#}
{% macro take_changed_orders(ledgers, fingerprints, extra_keys) %}
    {%- set now, new_files, changed = _order_scratch() %}
    {%- set day = execute and env_var('ZHONGTAI_DBT_RUN', '') == 'day' %}
    create or replace temp table {{ now }} as
    {%- for m in ledgers %}
    {%- set stg = ref(m) %}
    select '{{ m }}' as input, lake_file, source_file, size, modified,
        cast(null as hugeint) as fingerprint
    from {{ stg.schema }}.{{ stg.identifier }}__lake_files
    union all
    {%- endfor %}
    {%- for m in fingerprints %}
    select '{{ m }}', null, null, null, null,
        (select coalesce(sum(cast(hash(t) as hugeint)), 0) + count(*) from {{ ref(m) }} as t)
    {%- if not loop.last %} union all{% endif %}
    {%- endfor %};
    {%- if is_incremental() %}
    {{ _create_order_inputs() }}
    set variable {{ this.identifier }}__rebuild_all = (
        {{ 'false' if day else 'true' }}
        or not exists (select 1 from {{ _order_inputs() }})
        or exists (
            select input, lake_file, size, modified, fingerprint from {{ _order_inputs() }}
            except
            select input, lake_file, size, modified, fingerprint from {{ now }}
        )
    );
    {%- if day %}
    create or replace temp table {{ new_files }} as
    select n.input, n.source_file from {{ now }} as n
    where n.lake_file is not null and not exists (
        select 1 from {{ _order_inputs() }} as s
        where s.input = n.input and s.lake_file = n.lake_file
    );
    create or replace temp table {{ changed }} as
    {%- for m in ledgers %}
    select channel, order_id from {{ ref(m) }}
    where not {{ _rebuild_all() }}
        and source_file in (select source_file from {{ new_files }} where input = '{{ m }}')
    union
    {%- endfor %}
    {%- if extra_keys %}
    select channel, order_id from ({{ extra_keys }}) as extra
    where not {{ _rebuild_all() }}
    union
    {%- endif %}
    select cast(null as varchar), cast(null as varchar) where false;
    {%- else %}
    create or replace temp table {{ new_files }} as
    select cast(null as varchar) as input, cast(null as varchar) as source_file where false;
    create or replace temp table {{ changed }} as
    select cast(null as varchar) as channel, cast(null as varchar) as order_id where false;
    {%- endif %}
    delete from {{ this }} as t
    where {{ _rebuild_all() }} or exists (
        select 1 from {{ changed }} as c where c.channel = t.channel and c.order_id = t.order_id
    );
    {%- endif %}
{% endmacro %}

{#- Post-hook: the inputs the table is now built from. -#}
{% macro record_order_inputs() %}
    {%- set now, new_files, changed = _order_scratch() %}
    {{ _create_order_inputs() }}
    delete from {{ _order_inputs() }};
    insert into {{ _order_inputs() }} select * from {{ now }};
    drop table {{ now }};
    {%- if is_incremental() %}
    drop table {{ new_files }};
    drop table {{ changed }};
    {%- endif %}
{% endmacro %}

{#-
  Each order's customer (channel, order_id, customer_id, customer_source): the one identity
  resolution gave the order record itself (entity 'orders', record_id = order_id), else the
  one of the order's contacts delivered in their own file (entity 'order_contacts',
  record_id = order_id/role; the buyer before the receiver). Orders no identifier links are
  absent. Read by fct_orders, and by its pre-hook to find the orders whose customer changed.
-#}
{% macro order_customers() %}
    with record_customers as (
        select * from {{ source('identity', 'record_customers') }}
        where customer_id is not null
    ),

    order_customer as (
        select channel, record_id as order_id, min(customer_id) as customer_id
        from record_customers
        where entity = 'orders'
        group by 1, 2
    ),

    contact_customer as (
        select channel, order_id, customer_id
        from (
            select
                channel,
                {{ dbt.split_part('record_id', "'/'", 1) }} as order_id,
                customer_id,
                row_number() over (
                    partition by channel, {{ dbt.split_part('record_id', "'/'", 1) }}
                    order by
                        case when {{ dbt.split_part('record_id', "'/'", 2) }} = 'buyer' then 0 else 1 end,
                        record_id
                ) as contact_rank
            from record_customers
            where entity = 'order_contacts'
        ) as ranked
        where contact_rank = 1
    )

    select
        coalesce(oc.channel, cc.channel) as channel,
        coalesce(oc.order_id, cc.order_id) as order_id,
        coalesce(oc.customer_id, cc.customer_id) as customer_id,
        case when oc.customer_id is not null then 'order' else 'order_contact' end
            as customer_source
    from order_customer as oc
    full outer join contact_customer as cc
        on oc.channel = cc.channel and oc.order_id = cc.order_id
{% endmacro %}

{#- fct_orders' extra keys: the orders whose customer is not the one identity now gives. -#}
{% macro fct_orders_customer_changes() %}
    select t.channel, t.order_id
    from {{ this }} as t
    left join ({{ order_customers() }}) as c
        on t.channel = c.channel and t.order_id = c.order_id
    where t.customer_id is distinct from c.customer_id
        or t.customer_source is distinct from c.customer_source
{% endmacro %}

{#- fct_order_lines' extra keys: the orders whose lines carry another customer than the order. -#}
{% macro fct_order_lines_customer_changes() %}
    select distinct t.channel, t.order_id
    from {{ this }} as t
    left join {{ ref('fct_orders') }} as o
        on t.channel = o.channel and t.order_id = o.order_id
    where t.customer_id is distinct from o.customer_id
{% endmacro %}
