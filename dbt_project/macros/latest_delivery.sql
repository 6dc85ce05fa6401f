{#-
  Rows of `relation` keeping, per key, the one from the latest delivery (the file ingested
  last; ties broken by file name, then by row). A corrected or re-exported record replaces
  the earlier one; the lake keeps both. Portable SQL (window function, no QUALIFY).
-#}
{% macro latest_delivery(relation, key_columns) %}
select * from (
    select
        *,
        row_number() over (
            partition by {{ key_columns | join(', ') }}
            order by ingested_at desc, source_file desc, source_row desc
        ) as delivery_rank
    from {{ relation }}
) as ranked
where delivery_rank = 1
{% endmacro %}
