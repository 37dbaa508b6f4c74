"""Idempotency-Key on API writes (Stripe's semantics), for every API view of every app.

An HTTP concern rather than a PMS one, so it is its own app: its table and migrations stay out of
pms_core's, and it imports no domain code (the organization is a string reference).
"""
