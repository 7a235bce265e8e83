"""Analytics: one row per turn from Rasa's event broker, reconciled with the tracker store.

`python -m analytics` runs the consumer (scripts/stack's `analytics`); `python -m analytics
reconcile` rebuilds rows from the tracker store. docs/agency.md ("Analytics") says what is counted.
"""
