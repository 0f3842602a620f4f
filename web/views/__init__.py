"""What the console's pages show, as data: pure queries that return dataclasses (no FastAPI,
no HTML). Every query is bounded by what its page shows: lists are paginated or capped, sums
are taken in SQL with GROUP BY, and the rules (budget, SLA clocks, phases) are the handlers'."""
