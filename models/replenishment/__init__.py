"""Replenishment: safety stock, reorder point and order-up-to level from the demand forecast's
quantiles, transfers between locations before buying, order quantities in whole cases, and a
simulation of the policy against a naive one on the demo truth."""
