{#- Fails with every row where the expression is false: invariants like
    net_amount = unit_price * quantity - discount. Portable SQL only. -#}
{% test expression_is_true(model, expression, column_name=none, where_clause=none) %}
select *
from {{ model }}
where not ({{ expression }})
{% if where_clause %}and ({{ where_clause }}){% endif %}
{% endtest %}
