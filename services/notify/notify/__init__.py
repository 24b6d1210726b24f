"""Notify: presence, read receipts, in-app notifications and email, fed by the event stream."""
