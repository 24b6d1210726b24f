"""Missed-message and digest emails: scheduled from events, kept in the database, sent by a loop."""
