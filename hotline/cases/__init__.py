"""The case store: cases handed off to duty lawyers, their routing, claims, audit trail and outbox.

`store.CaseStore` is the API (one transaction per method); `routing` decides who may see a case and whom it
is offered to; `roster` reads the duty roster's CSV; `records` are the read-only views the store hands out;
`models` are the tables and `migrations/` the Alembic revisions that make them; `db` makes engines and runs
the migrations; `report` computes `hotline report`; `cli` is `hotline db | lawyers | roster | cases | report`.
"""
