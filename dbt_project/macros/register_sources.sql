{#-
  Makes the project's sources readable on the target before anything builds (on-run-start).
  DuckDB needs nothing: the lake sources read their Parquet through external_location
  (_lake__sources.yml) and the identity sources are tables the Dagster asset wrote into the
  same warehouse. Spark reads the same lake Parquet: each lake source becomes an external
  table over <data>/lake/raw/<name> (every *.parquet file, columns unioned by name as
  read_parquet(union_by_name) does). A source of another schema (identity, written by a
  Python asset) is registered the same way when var('source_parquet_dir') names a folder
  holding <source>/<table>/*.parquet; otherwise it must already be in the Spark catalog.
  External tables only: registering never writes, and dropping one never deletes a file.
-#}
{% macro register_sources() -%}
    {{ return(adapter.dispatch('register_sources')()) }}
{%- endmacro %}

{% macro default__register_sources() -%}
{%- endmacro %}

{% macro spark__register_sources() -%}
    {%- if execute -%}
        {%- set root = lake_root() -%}
        {%- set parquet_dir = var('source_parquet_dir', none) -%}
        {%- for source in graph.sources.values() | sort(attribute='unique_id') -%}
            {%- if source.source_name == 'lake' -%}
                {%- set location = root ~ '/' ~ source.name -%}
            {%- elif parquet_dir -%}
                {%- set location = parquet_dir ~ '/' ~ source.source_name ~ '/' ~ source.name -%}
            {%- else -%}
                {%- set location = none -%}
            {%- endif -%}
            {%- if location -%}
                {%- do run_query('create schema if not exists ' ~ source.schema) -%}
                {%- do run_query(
                    'create table if not exists ' ~ source.schema ~ '.' ~ source.identifier
                    ~ " using parquet options (mergeSchema 'true', pathGlobFilter '*.parquet')"
                    ~ " location '" ~ location ~ "'"
                ) -%}
            {%- endif -%}
        {%- endfor -%}
    {%- endif -%}
{%- endmacro %}
