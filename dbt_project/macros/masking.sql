{#- Masks for the marketer-facing views (schema marts_masked). Portable SQL only. -#}

{#- +8613812345678 -> 138****5678; any other phone: first 3 and last 4 digits around ****. -#}
{% macro mask_phone(col) -%}
    case
        when {{ col }} is null then null
        when {{ col }} like '+86%' and {{ dbt.length(col) }} = 14
            then substr({{ col }}, 4, 3) || '****' || substr({{ col }}, 11, 4)
        when {{ dbt.length(col) }} >= 8
            then substr(replace({{ col }}, '+', ''), 1, 3) || '****'
                || substr({{ col }}, {{ dbt.length(col) }} - 3, 4)
        else '****'
    end
{%- endmacro %}

{#- alice@example.com -> a***@example.com -#}
{% macro mask_email(col) -%}
    case
        when {{ col }} is null or {{ col }} not like '%@%' then null
        else substr({{ col }}, 1, 1) || '***@' || {{ dbt.split_part(col, "'@'", 2) }}
    end
{%- endmacro %}

{#- A personal name: its first character and ** (王小明 -> 王**). -#}
{% macro mask_name(col) -%}
    case when {{ col }} is null then null else substr({{ col }}, 1, 1) || '**' end
{%- endmacro %}

{#- Any other identifier (member no., openid, device id): first 3 characters and ***. -#}
{% macro mask_id(col) -%}
    case when {{ col }} is null then null else substr({{ col }}, 1, 3) || '***' end
{%- endmacro %}

{#- A birthday as an age band on a date: under 18, 18-24, 25-34, 35-44, 45-54, 55+. -#}
{% macro age_band(birthday, on_date) -%}
    case
        when {{ birthday }} is null then null
        when {{ dbt.datediff(birthday, on_date, 'day') }} < 18 * 365.25 then 'under 18'
        when {{ dbt.datediff(birthday, on_date, 'day') }} < 25 * 365.25 then '18-24'
        when {{ dbt.datediff(birthday, on_date, 'day') }} < 35 * 365.25 then '25-34'
        when {{ dbt.datediff(birthday, on_date, 'day') }} < 45 * 365.25 then '35-44'
        when {{ dbt.datediff(birthday, on_date, 'day') }} < 55 * 365.25 then '45-54'
        else '55+'
    end
{%- endmacro %}

{#- Every column of a relation but the ones named (for views that mask a few columns). -#}
{% macro columns_except(relation, excluded) -%}
    {%- if execute -%}
        {%- set cols = adapter.get_columns_in_relation(relation) -%}
        {%- for c in cols if c.name | lower not in excluded -%}
            {{ adapter.quote(c.name) }}{{ ", " if not loop.last }}
        {%- endfor -%}
    {%- else -%}
        *
    {%- endif -%}
{%- endmacro %}
