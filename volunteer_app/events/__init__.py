"""Events and shifts: the public listing, sign-up, and the organiser's event pages."""
