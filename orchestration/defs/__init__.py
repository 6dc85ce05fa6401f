"""One module per domain; ``orchestration/definitions.py`` assembles them."""
