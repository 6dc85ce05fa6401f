{#-
  Incremental staging of the lake (one new day must not re-read a year of files).

  A staging model of a big entity is built once in full, then each run adds only the lake
  rows of the files ingested since its last build, `latest_delivery` per key among them
  replacing the row of an earlier delivery (delete+insert on the model's key). Rows leave
  the table when the lake no longer holds their row (a corrected delivery `_v2` replaced
  its file, retention purged its day) or when their file is delivered again with new
  content (the new rows come in). The
  result equals a full build on the same lake; tests/orchestration/test_incremental.py
  holds it. A change of the model's SQL needs `zhongtai materialize --full-refresh`.

  Usage, in the model:
      {{ config(**delivery_incremental(['channel', 'event_id'], 'events')) }}
      with source as (
          select * from {{ source('lake', 'events') }}
          {{ new_deliveries_only() }}
      ), ...
-#}

{% macro delivery_incremental(key_columns, entity) %}
    {{ return(adapter.dispatch('delivery_incremental')(key_columns, entity)) }}
{% endmacro %}

{#- Adapters with delete+insert (DuckDB, Postgres, Snowflake, ...) build incrementally. -#}
{% macro default__delivery_incremental(key_columns, entity) %}
    {{ return({
        'materialized': 'incremental',
        'incremental_strategy': 'delete+insert',
        'unique_key': key_columns,
        'on_schema_change': 'fail',
        'pre_hook': "{{ drop_withdrawn_deliveries('" ~ entity ~ "') }}",
    }) }}
{% endmacro %}

{#- Spark on plain Parquet has no delete+insert: a table rebuilt in full (same rows). -#}
{% macro spark__delivery_incremental(key_columns, entity) %}
    {{ return({'materialized': 'table'}) }}
{% endmacro %}

{#- The newest ingest this table has seen; the epoch when it is empty. -#}
{% macro _last_ingested() %}
    coalesce((select max(ingested_at) from {{ this }}), cast('1970-01-01 00:00:00' as timestamp))
{% endmacro %}

{% macro new_deliveries_only() %}
    {%- if is_incremental() %}
    where ingested_at > {{ _last_ingested() }}
    {%- endif %}
{% endmacro %}

{#- Pre-hook: remove the rows whose lake row is gone (a corrected delivery `_v2` replaced
    its file, retention purged old clickstream days) and the rows of files delivered again
    with new content (their new rows come in). An anti-join on two columns of the lake: far
    cheaper than the window over every column a full build runs. Runs before the model reads
    `max(ingested_at)`. -#}
{% macro drop_withdrawn_deliveries(entity) %}
    {%- if is_incremental() %}
    delete from {{ this }} as built
    where not exists (
        select 1 from {{ source('lake', entity) }} as lake
        where lake.source_file = built.source_file and lake.source_row = built.source_row
    )
    or built.source_file in (
        select source_file from {{ source('lake', entity) }}
        where ingested_at > {{ _last_ingested() }}
    )
    {%- else %}
    select 1
    {%- endif %}
{% endmacro %}
