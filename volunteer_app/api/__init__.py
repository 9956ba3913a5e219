"""The small versioned JSON API the scanner page talks to (session auth + CSRF header)."""
