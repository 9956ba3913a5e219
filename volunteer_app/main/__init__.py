"""The home page, language and large-text switches, the volunteer's start page."""
