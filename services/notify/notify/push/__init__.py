"""Push notifications to phones and browsers: devices, providers, and the sender."""
