{#-
  The last non-null value of `expr` in a window frame; follow it with `over (...)`. DuckDB
  writes IGNORE NULLS inside the call, Spark takes it as last_value's second argument.
-#}
{% macro last_non_null(expr) -%}
    {{ return(adapter.dispatch('last_non_null')(expr)) }}
{%- endmacro %}

{% macro default__last_non_null(expr) -%}
    last_value({{ expr }} ignore nulls)
{%- endmacro %}

{% macro spark__last_non_null(expr) -%}
    last_value({{ expr }}, true)
{%- endmacro %}
