-- Points balance per member: the CRM's reported balance (member snapshot) beside the balance
-- of its own transactions (points_ledger, source 'crm') and the unified balance that adds the
-- accruals the CRM missed on other channels (source 'rule'). balance_difference =
-- reported - ledger. A difference is explained as 'opening_balance' when the member joined
-- before the ledger's first transaction (the files do not reach back to the balance they
-- opened with), as 'floored_at_zero' when the ledger is negative and the CRM shows 0, and
-- is 'unexplained' otherwise. A WARN check lists differences.
with members as (
    select * from {{ ref('int_member_customers') }}
),

ledger as (
    select * from {{ ref('points_ledger') }}
),

ledger_start as (
    select min(txn_ts) as first_txn_ts from ledger where source = 'crm'
),

per_member as (
    select
        member_no,
        sum(case when source = 'crm' then points else 0 end) as ledger_balance,
        sum(case when source = 'crm' and txn_type = 'earn' then points else 0 end) as earned,
        sum(case when source = 'crm' and txn_type = 'redeem' then -points else 0 end) as redeemed,
        sum(case when source = 'crm' and txn_type = 'bonus' then points else 0 end) as bonus,
        sum(case when source = 'rule' then points else 0 end) as missing_accrual_points,
        sum(case when rule_check = 'points_differ' then expected_points - points else 0 end)
            as earn_difference_points,
        sum(case when rule_check not in ('ok', 'missing_in_crm') then 1 else 0 end)
            as rule_exceptions,
        count(*) as entries,
        max(txn_ts) as last_txn_ts
    from ledger
    group by 1
),

reconciled as (
    select
        m.member_no,
        m.customer_id,
        m.member_tier,
        m.member_status,
        m.joined_at,
        m.crm_points_balance as crm_reported_balance,
        coalesce(p.ledger_balance, 0) as ledger_balance,
        coalesce(p.earned, 0) as earned,
        coalesce(p.redeemed, 0) as redeemed,
        coalesce(p.bonus, 0) as bonus,
        coalesce(p.missing_accrual_points, 0) as missing_accrual_points,
        coalesce(p.earn_difference_points, 0) as earn_difference_points,
        coalesce(p.rule_exceptions, 0) as rule_exceptions,
        coalesce(p.entries, 0) as entries,
        p.last_txn_ts,
        s.first_txn_ts
    from members as m
    left join per_member as p
        on m.member_no = p.member_no
    cross join ledger_start as s
)

select
    cast(member_no as {{ dbt.type_string() }}) as member_no,
    cast(customer_id as {{ dbt.type_string() }}) as customer_id,
    cast(member_tier as {{ dbt.type_string() }}) as member_tier,
    cast(member_status as {{ dbt.type_string() }}) as member_status,
    cast(joined_at as timestamp) as joined_at,
    cast(crm_reported_balance as {{ dbt.type_bigint() }}) as crm_reported_balance,
    cast(ledger_balance as {{ dbt.type_bigint() }}) as ledger_balance,
    cast(earned as {{ dbt.type_bigint() }}) as earned,
    cast(redeemed as {{ dbt.type_bigint() }}) as redeemed,
    cast(bonus as {{ dbt.type_bigint() }}) as bonus,
    cast(missing_accrual_points as {{ dbt.type_bigint() }}) as missing_accrual_points,
    cast(earn_difference_points as {{ dbt.type_bigint() }}) as earn_difference_points,
    cast(ledger_balance + missing_accrual_points as {{ dbt.type_bigint() }}) as unified_balance,
    cast(coalesce(crm_reported_balance, 0) - ledger_balance as {{ dbt.type_bigint() }})
        as balance_difference,
    cast(
        case
            when coalesce(crm_reported_balance, 0) = ledger_balance then 'match'
            when joined_at < first_txn_ts then 'opening_balance'
            when ledger_balance < 0 and coalesce(crm_reported_balance, 0) = 0
                then 'floored_at_zero'
            else 'unexplained'
        end as {{ dbt.type_string() }}
    ) as reconciliation_status,
    cast(rule_exceptions as {{ dbt.type_bigint() }}) as rule_exceptions,
    cast(entries as {{ dbt.type_bigint() }}) as entries,
    cast(last_txn_ts as timestamp) as last_txn_ts
from reconciled
