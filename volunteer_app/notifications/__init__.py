"""The in-app inbox and message preferences."""
