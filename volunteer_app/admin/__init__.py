"""Administration: accounts, roles, org units, settings."""
