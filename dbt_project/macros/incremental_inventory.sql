{#-
  inventory_position by date: a new day rebuilds the position dates from the earliest date
  whose inputs changed, not every date of every location × SKU (~700k rows at 10,000 × 400).

  A pair's row on a day depends on the pair's snapshots and line events up to that day, the
  location's snapshot days, the set of days (every snapshot or event date), the location's
  type and the latest date (is_latest). The table `inventory_position__inputs` records, per
  date, a fingerprint (a sum of row hashes) of the snapshots of that date and of the line
  events (`inventory_lines`) on that date, and one fingerprint of the locations. A run of the
  day (env ZHONGTAI_DBT_RUN=day, as macros/incremental_orders.sql):
  1. pre-hook: the fingerprints now; the cutoff is the earliest date whose fingerprint
     differs (appeared, changed or gone); no inputs recorded, other locations or any run that
     is not the day's: every date. The rows on or after the cutoff are deleted;
  2. the model computes the days from the cutoff only, each pair's running sums and last
     snapshot carried from its row on the last day before the cutoff (reserved = placed -
     left, sold since snapshot = left since the snapshot: both continue from it);
  3. post-hook: is_latest set again on the rows kept (the latest day moved), inputs recorded.
  The result equals a full build on the same inputs (tests/orchestration/
  test_incremental.py). Spark on plain Parquet: a table rebuilt in full (same rows).
-#}

{% macro inventory_incremental() %}
    {{ return(adapter.dispatch('inventory_incremental')()) }}
{% endmacro %}

{% macro default__inventory_incremental() %}
    {{ return({
        'materialized': 'incremental',
        'incremental_strategy': 'append',
        'on_schema_change': 'fail',
        'pre_hook': "{{ take_inventory_cutoff() }}",
        'post_hook': "{{ record_inventory_inputs() }}",
    }) }}
{% endmacro %}

{% macro spark__inventory_incremental() %}
    {{ return({'materialized': 'table'}) }}
{% endmacro %}

{#- The snapshots, the pairs (first snapshot) and the line events per pair and day: the
    model's first CTEs, and what the pre-hook fingerprints. -#}
{% macro inventory_lines() %}
snapshots as (
    select
        snapshot_date,
        location_id,
        sku,
        on_hand,
        coalesce(in_transit, 0) as in_transit
    from {{ ref('stg_lake__inventory') }}
),

pairs as (
    select location_id, sku, min(snapshot_date) as first_snapshot
    from snapshots
    group by 1, 2
),

real_lines as (
    select
        location_id,
        sku,
        quantity,
        order_date as placed_date,
        case
            when ship_date is not null then greatest(ship_date, order_date)
            when status in ('shipped', 'completed') then order_date
        end as left_date
    from {{ ref('fct_order_lines') }}
    where
        not is_test
        and not coalesce(is_brushing_suspect, false)
        and status in ('pending', 'paid', 'shipped', 'completed')
        and location_id is not null
        and sku is not null
        and order_date is not null
),

events as (
    select l.location_id, l.sku, greatest(l.placed_date, p.first_snapshot) as event_date,
        l.quantity as placed_units, 0 as left_units
    from real_lines as l
    inner join pairs as p on l.location_id = p.location_id and l.sku = p.sku
    union all
    select l.location_id, l.sku, greatest(l.left_date, p.first_snapshot) as event_date,
        0 as placed_units, l.quantity as left_units
    from real_lines as l
    inner join pairs as p on l.location_id = p.location_id and l.sku = p.sku
    where l.left_date is not null
),

lines as (
    select
        location_id,
        sku,
        event_date,
        sum(placed_units) as placed_units,
        sum(left_units) as left_units
    from events
    group by 1, 2, 3
)
{% endmacro %}

{%- macro _inventory_inputs() -%}
    {{ this.schema }}.{{ this.identifier }}__inputs
{%- endmacro -%}

{%- macro _inventory_now() -%}
    {{ this.identifier }}__inputs_now
{%- endmacro -%}

{#- The first date to rebuild (set by the pre-hook). -#}
{% macro inventory_cutoff() %}
    {%- if this is not none and is_incremental() -%}
    getvariable('{{ this.identifier }}__cutoff')
    {%- else -%}
    cast(null as date)
    {%- endif -%}
{% endmacro %}

{#- Pre-hook: the fingerprints now, the cutoff, the rows from it deleted. -#}
{% macro take_inventory_cutoff() %}
    {%- set day = execute and env_var('ZHONGTAI_DBT_RUN', '') == 'day' %}
    create or replace temp table {{ _inventory_now() }} as
    with {{ inventory_lines() }}
    select 'snapshots' as input, snapshot_date as input_date,
        sum(cast(hash(snapshot_date, location_id, sku, on_hand, in_transit) as hugeint)) + count(*)
            as fingerprint
    from snapshots
    group by 1, 2
    union all
    select 'lines', event_date,
        sum(cast(hash(location_id, sku, event_date, placed_units, left_units) as hugeint)) + count(*)
    from lines
    group by 1, 2
    union all
    select 'locations', null,
        (select coalesce(sum(cast(hash(t) as hugeint)), 0) + count(*)
         from {{ ref('stg_lake__locations') }} as t);
    {%- if is_incremental() %}
    create table if not exists {{ _inventory_inputs() }} (
        input varchar, input_date date, fingerprint hugeint
    );
    set variable {{ this.identifier }}__cutoff = (
        with changed as (
            (select * from {{ _inventory_inputs() }} except select * from {{ _inventory_now() }})
            union all
            (select * from {{ _inventory_now() }} except select * from {{ _inventory_inputs() }})
        )
        select case
            when {{ 'false' if day else 'true' }}
                or not exists (select 1 from {{ _inventory_inputs() }})
                or exists (select 1 from changed where input = 'locations')
                then date '0001-01-01'
            else coalesce((select min(input_date) from changed), date '9999-12-31')
        end
    );
    delete from {{ this }} where position_date >= {{ inventory_cutoff() }};
    {%- endif %}
{% endmacro %}

{#- Post-hook: is_latest of the rows kept, the inputs the table is now built from. -#}
{% macro record_inventory_inputs() %}
    {%- if is_incremental() %}
    update {{ this }} set is_latest = (position_date = (select max(position_date) from {{ this }}))
    where is_latest is distinct from (position_date = (select max(position_date) from {{ this }}));
    {%- endif %}
    create table if not exists {{ _inventory_inputs() }} (
        input varchar, input_date date, fingerprint hugeint
    );
    delete from {{ _inventory_inputs() }};
    insert into {{ _inventory_inputs() }} select * from {{ _inventory_now() }};
    drop table {{ _inventory_now() }};
{% endmacro %}
