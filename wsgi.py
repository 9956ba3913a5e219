"""What gunicorn and `flask --app wsgi` load."""

import gc

from volunteer_app import create_app

app = create_app()

# The app and the ~140,000 objects of the modules it loaded live as long as the process.
# Frozen, they are left out of the collector's full passes, which otherwise scan them all
# every few requests of a large page (a 120-150 ms pause each; see docs/performance.md).
gc.collect()
gc.freeze()
# A request makes and frees a few thousand container objects (the ORM's states, rows and
# results); at the default threshold of 700 the youngest generation is collected several
# times in each, tracing objects that their reference counts free a moment later anyway.
# Measured in one process, paired batches of check-ins and sign-ups: 0.02-0.2 ms less CPU a
# request (bench/findings.md, round 11). The older generations keep their defaults.
gc.set_threshold(20_000, *gc.get_threshold()[1:])
