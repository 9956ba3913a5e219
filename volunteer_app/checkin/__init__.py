"""Check-in at the site: the lead's scanner, walk-ins, corrections."""
