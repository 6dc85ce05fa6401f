{#-
  Incremental staging of the lake: a run reads the lake files that are new or changed since
  the model's last build, not the whole lake (one Parquet file per landing file per entity,
  thousands of them).

  Per model, a ledger table `<model>__lake_files` (lake_file, source_file, size, modified)
  holds the lake files the table was built from. A run:
  1. lists the entity's lake folder with their sizes and modification times (`read_blob`
     without its `content` column opens no file), in a pre-hook;
  2. deletes the rows of the files that left the lake or changed (other size or time: a
     retention purge or an erasure rewrites a file in place) by their `source_file`;
  3. reads the new and changed files, and the unchanged ones holding the same `source_file`
     as a deleted one (their rows went with it): `latest_delivery` per key among them, a row
     kept only when the table holds no later delivery of its key (delete+insert on the key);
  4. records what it read in the ledger (post-hook, same transaction).
  A file modified within 2 s of the listing is recorded without its time and read again by
  the next run: the file system's clock has seconds, and a rewrite within the same second at
  the same size would look unchanged. A table without a ledger (built before it existed) is
  read again in full. The result equals a full build on the same lake
  (tests/orchestration/test_incremental.py), except where a deleted row's key has an older
  delivery in an unchanged file of another landing file: that row stays out until a full
  build (as before the ledger). A change of the model's SQL needs
  `zhongtai materialize --full-refresh` (README.md, "Incremental runs").

  Usage, in the model:
      {{ config(**delivery_incremental(['channel', 'event_id'], 'events')) }}
      with source as (
          {{ lake_deliveries('events', ['channel', 'event_id']) }}
      ), ...
-#}

{% macro delivery_incremental(key_columns, entity) %}
    {{ return(adapter.dispatch('delivery_incremental')(key_columns, entity)) }}
{% endmacro %}

{#- Adapters with delete+insert (DuckDB) build incrementally. -#}
{% macro default__delivery_incremental(key_columns, entity) %}
    {{ return({
        'materialized': 'incremental',
        'incremental_strategy': 'delete+insert',
        'unique_key': key_columns,
        'on_schema_change': 'fail',
        'pre_hook': "{{ take_lake_files('" ~ entity ~ "') }}",
        'post_hook': "{{ record_lake_files() }}",
    }) }}
{% endmacro %}

{#- Spark on plain Parquet has no delete+insert: a table rebuilt in full (same rows). -#}
{% macro spark__delivery_incremental(key_columns, entity) %}
    {{ return({'materialized': 'table'}) }}
{% endmacro %}

{#- The folder of the lake's Parquet (the lake sources' external_location, register_sources). -#}
{% macro lake_root() %}
    {{- return(env_var('ZHONGTAI_DATA_DIR', '../data') ~ '/lake/raw') -}}
{% endmacro %}

{%- macro _ledger() -%}
    {{ this.schema }}.{{ this.identifier }}__lake_files
{%- endmacro -%}

{#- The ledger's one definition, created when missing: by the pre-hook of an incremental run
    on a table built before the ledger existed, by the post-hook of a full build. -#}
{%- macro _create_ledger() -%}
    create table if not exists {{ _ledger() }} (
        lake_file varchar, source_file varchar, size bigint, modified timestamptz
    );
{%- endmacro -%}

{#- The hooks' temporary tables (per connection; named per model all the same). -#}
{%- macro _scratch() -%}
    {{ return([this.identifier ~ '__lake_listing', this.identifier ~ '__lake_changed',
               this.identifier ~ '__lake_to_read']) }}
{%- endmacro -%}

{#- The DuckDB variable holding the paths the model reads (set by the pre-hook). -#}
{%- macro _to_read() -%}
    getvariable('{{ this.identifier }}__to_read')
{%- endmacro -%}

{#- The rows of the lake files the pre-hook chose; incrementally, only those no row of the
    table outranks (a later delivery of the same key). -#}
{% macro lake_deliveries(entity, key_columns) %}
    {{ return(adapter.dispatch('lake_deliveries')(entity, key_columns)) }}
{% endmacro %}

{% macro default__lake_deliveries(entity, key_columns) %}
    {%- set lake = source('lake', entity) %}
    select * from read_parquet({{ _to_read() }}, union_by_name = true) as lake
    {%- if is_incremental() %}
    where not exists (
        select 1 from {{ this }} as built
        where {% for k in key_columns %}built.{{ k }} = lake.{{ k }} and {% endfor -%}
            (built.ingested_at, built.source_file, built.source_row)
            > (lake.ingested_at, lake.source_file, lake.source_row)
    )
    {%- endif %}
{% endmacro %}

{% macro spark__lake_deliveries(entity, key_columns) %}
    select * from {{ source('lake', entity) }}
{% endmacro %}

{#- Pre-hook: list the lake folder, delete the rows of files gone or changed, and set the
    files to read (always with `_schema.parquet`, no rows, all columns). -#}
{% macro take_lake_files(entity) %}
    {%- set folder = lake_root() ~ '/' ~ entity %}
    {%- set listing, changed, to_read = _scratch() %}
    create or replace temp table {{ listing }} as
    select
        parse_filename(filename) as lake_file,
        filename as path,
        size,
        case when last_modified < now() - interval 2 second then last_modified end as modified
    from read_blob('{{ folder }}/*.parquet')
    where parse_filename(filename) <> '_schema.parquet'
    order by path;  -- sorted: a parallel insert of one-row tasks costs 1-2 CPU s per 4,000 files
    {%- if is_incremental() %}
    {{ _create_ledger() }}
    create or replace temp table {{ changed }} as
    select lake_file, source_file from {{ _ledger() }} as l
    where not exists (
        select 1 from {{ listing }} as n
        where n.lake_file = l.lake_file and n.size = l.size and n.modified = l.modified
    );
    delete from {{ this }}
    where source_file in (select source_file from {{ changed }})
        or not exists (select 1 from {{ _ledger() }});
    create or replace temp table {{ to_read }} as
    select n.lake_file, n.path, n.size, n.modified from {{ listing }} as n
    where not exists (
            select 1 from {{ _ledger() }} as l
            where l.lake_file = n.lake_file and l.size = n.size and l.modified = n.modified
        )
        or n.lake_file in (
            select lake_file from {{ _ledger() }}
            where source_file in (select source_file from {{ changed }})
        );
    {%- else %}
    create or replace temp table {{ changed }} as
    select cast(null as varchar) as lake_file, cast(null as varchar) as source_file limit 0;
    create or replace temp table {{ to_read }} as select * from {{ listing }};
    {%- endif %}
    set variable {{ this.identifier }}__to_read = (
        select list_prepend('{{ folder }}/_schema.parquet', coalesce(list(path order by path), []))
        from {{ to_read }}
    );
{% endmacro %}

{#- Post-hook: the files read replace their entries (and those of files gone) in the ledger.
    Their source_file is read from the files again (one column of the few files read). -#}
{% macro record_lake_files() %}
    {%- set listing, changed, to_read = _scratch() %}
    {{ _create_ledger() }}
    {%- if not is_incremental() %}
    delete from {{ _ledger() }};
    {%- endif %}
    delete from {{ _ledger() }}
    where lake_file in (select lake_file from {{ changed }})
        or lake_file in (select lake_file from {{ to_read }});
    insert into {{ _ledger() }}
    select n.lake_file, f.source_file, n.size, n.modified
    from {{ to_read }} as n
    left join (
        select distinct parse_filename(filename) as lake_file, source_file
        from read_parquet({{ _to_read() }}, union_by_name = true, filename = true)
    ) as f using (lake_file);
    drop table {{ listing }};
    drop table {{ changed }};
    drop table {{ to_read }};
{% endmacro %}
