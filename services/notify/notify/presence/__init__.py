"""Presence: which users have an open connection, from the gateways' transient events."""
