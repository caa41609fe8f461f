"""Plumbing every Jietiao service shares: contracts, bus, outbox, inbox, settings."""
