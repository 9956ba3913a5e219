"""What gunicorn and `flask --app wsgi` load."""

import gc

from volunteer_app import create_app

app = create_app()

# The app and the ~140,000 objects of the modules it loaded live as long as the process.
# Frozen, they are left out of the collector's full passes, which otherwise scan them all
# every few requests of a large page (a 120-150 ms pause each; see docs/performance.md).
gc.collect()
gc.freeze()
