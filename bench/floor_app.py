"""The product app exactly as gunicorn loads it (`wsgi:app`) plus the bench-only framework
floor route (bench/floor.py). Served by the bench alone: `floor_app:app` with bench/ on
gunicorn's --pythonpath."""

from floor import register

import wsgi

app = register(wsgi.app)
