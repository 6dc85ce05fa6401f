{#-
  The distinct values of `column` in one string, sorted, joined by `delimiter` (a SQL
  literal). dbt.listagg's order_by_clause is ignored on Spark (dbt-spark warns and aggregates
  in arrival order), so Spark sorts the set instead; DuckDB keeps dbt.listagg.
-#}
{% macro listagg_distinct(column, delimiter) -%}
    {{ return(adapter.dispatch('listagg_distinct')(column, delimiter)) }}
{%- endmacro %}

{% macro default__listagg_distinct(column, delimiter) -%}
    {{ dbt.listagg("distinct " ~ column, delimiter, "order by " ~ column) }}
{%- endmacro %}

{% macro spark__listagg_distinct(column, delimiter) -%}
    array_join(array_sort(collect_set({{ column }})), {{ delimiter }})
{%- endmacro %}
