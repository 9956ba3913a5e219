"""What gunicorn and `flask --app wsgi` load."""

from volunteer_app import create_app

app = create_app()
