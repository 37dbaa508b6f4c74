"""Airbnb: JSON REST with OAuth 2.0 (authorization code + refresh) and HMAC-signed webhooks."""
