{#- Fails with every row of the model: for models that list problems (e.g. unmapped SKUs). -#}
{% test has_no_rows(model) %}
select * from {{ model }}
{% endtest %}
