-- Orders flagged, never deleted: one row per order and flag, with the rule that fired.
-- Marts and exports decide what to exclude; the flags' precision and recall against the
-- demo truth are reported by the check flags_match_the_demo_truth.
with orders as (
    select * from {{ ref('stg_lake__orders') }}
),

test_orders as (
    select
        channel,
        order_id,
        'test_order' as flag,
        'the channel marks the order as a test' as rule
    from orders
    where is_test
),

tiny_payments as (
    -- brushing rings buy a full-price basket with a shop coupon and pay cents
    select
        channel,
        order_id,
        'brushing_suspect' as flag,
        'paid at most 5.00 and under 20 % of the goods value' as rule
    from orders
    where status in ('paid', 'shipped', 'completed')
      and paid_total is not null
      and gross_total > 0
      and paid_total <= 5
      and paid_total < 0.2 * gross_total
)

select * from test_orders
union all
select * from tiny_payments
