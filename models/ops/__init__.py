"""Omnichannel operations: price policy and conflicts, products by channel, channel P&L,
order routing, funnel (one module per topic; orchestration/defs/ops_*.py wraps them)."""
