"""In-app notifications and the user's notification preferences."""
