{#- The entities whose records are sources of customer attributes (int_customer_attributes):
    int_record_priorities ranks the records of these only. -#}
{% macro attribute_source_entities() %}
    {{ return(['members', 'orders', 'order_contacts']) }}
{% endmacro %}
