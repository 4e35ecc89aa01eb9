"""HealthTrack's shared plumbing: what every app may import and that imports no app.

Charts, the outbox, once-shown secrets, form-page status, cache counters, the definition of a
day, encrypted-field key rotation, the dashboard's panel types, the app registry, and the API's
strict parsing, errors, throttles, rate limits, filtering and Idempotency-Key handling.
See docs/architecture.md.
"""
