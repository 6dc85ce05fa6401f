{#-
  dbt tests of an incremental run on the new rows only, where a test allows it.

  A run tagged `zhongtai/dbt_tests=new_rows` (`zhongtai materialize --incremental`, the lake
  sensor's runs) passes, per incremental model it builds, the newest `ingested_at` the model
  held before the build (orchestration/defs/transform.py, env ZHONGTAI_TESTS_SINCE, JSON
  {unique_id: timestamp}). A row-level test (not_null, accepted_values, expression_is_true:
  each row passes or fails alone) of such a model then reads only the rows ingested after it:
  the older rows passed it in an earlier build. A `unique` test of such a model reads the
  rows whose key occurs among the new rows, old rows included: a duplicate the run makes
  has a new row in it, and the old rows, which an incremental run only deletes or replaces
  by key (`lake_deliveries`, delete+insert), were unique among themselves when an earlier build tested
  them (a full build, or this rule one run before). Tests across models (relationships: a
  parent can lose rows), has_no_rows and every test of a full build read the whole table. Read at execution only
  (`execute`), so the value never enters dbt's parse and a new cutoff re-parses nothing.
  Rows rebuilt without a new delivery (an order re-keyed by identity, a line re-mapped to
  another SKU, the rows of a lake file rewritten in place by retention or erasure) keep their
  `ingested_at`: their row-level tests are not re-run.
-#}
{% macro tested_since() %}
    {%- if not execute or model.resource_type != 'test' or not model.test_metadata -%}
        {{ return(none) }}
    {%- endif -%}
    {%- if model.test_metadata.name not in ['not_null', 'accepted_values', 'expression_is_true', 'unique'] -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set cutoffs = fromjson(env_var('ZHONGTAI_TESTS_SINCE', '{}')) -%}
    {{ return(cutoffs.get(model.attached_node)) }}
{% endmacro %}

{#- dbt's get_where_subquery (the `where` config of a test) and the cutoff above. -#}
{% macro get_where_subquery(relation) -%}
    {%- set clauses = [] -%}
    {%- if config.get('where', '') -%}
        {%- do clauses.append('(' ~ config.get('where') ~ ')') -%}
    {%- endif -%}
    {%- set since = tested_since() -%}
    {%- if since -%}
        {%- set new_rows = "ingested_at > cast('" ~ since ~ "' as timestamp)" -%}
        {%- if model.test_metadata.name == 'unique' -%}
            {%- set key = model.test_metadata.kwargs.column_name -%}
            {%- do clauses.append('(' ~ key ~ ') in (select ' ~ key ~ ' from ' ~ relation ~ ' where ' ~ new_rows ~ ')') -%}
        {%- else -%}
            {%- do clauses.append(new_rows) -%}
        {%- endif -%}
    {%- endif -%}
    {%- if clauses -%}
        {%- do return('(select * from ' ~ relation ~ ' where ' ~ clauses | join(' and ') ~ ') dbt_subquery') -%}
    {%- else -%}
        {%- do return(relation) -%}
    {%- endif -%}
{%- endmacro %}
