"""FeWo-direkt / Vrbo: JSON REST with an API key header and HMAC-signed webhooks."""
