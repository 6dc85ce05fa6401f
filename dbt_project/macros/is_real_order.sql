{#
  The one definition of a real order for the customer marts: not a test order (as the
  channel marks it or as int_order_flags flags it), not a brushing suspect, and paid, shipped
  or completed. Takes the alias of a relation with fct_orders' columns.
#}
{% macro is_real_order(alias) -%}
    not {{ alias }}.is_test
    and not {{ alias }}.is_flagged_test
    and not {{ alias }}.is_brushing_suspect
    and {{ alias }}.status in ('paid', 'shipped', 'completed')
{%- endmacro %}
