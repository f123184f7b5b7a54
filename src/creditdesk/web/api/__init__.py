"""The JSON API, one router per domain: books, decisions, cases, compliance, strategies."""
