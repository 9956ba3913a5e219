"""Real concurrency for rule tests: jobs in their own threads, app contexts, sessions and
database connections, released together by a barrier."""

from __future__ import annotations

import threading

from volunteer_app.extensions import db
from volunteer_app.services import ServiceError
from volunteer_app.services.database import begin_write


def run_concurrently(app, jobs):
    """Run each job in its own thread, app context, session and connection, all released
    at once; returns (results, unexpected errors)."""
    barrier = threading.Barrier(len(jobs))
    results, errors = [], []
    lock = threading.Lock()

    def run(job):
        with app.app_context():
            try:
                barrier.wait()
                begin_write()
                outcome = job()
                db.session.commit()
            except ServiceError as refused:
                db.session.rollback()
                outcome = ("refused", refused.messages)
            except Exception as error:
                db.session.rollback()
                with lock:
                    errors.append(repr(error))
                return
            finally:
                db.session.remove()
            with lock:
                results.append(outcome)

    db.session.commit()  # the test's own transaction must not hold a snapshot or a lock
    threads = [threading.Thread(target=run, args=(job,)) for job in jobs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    db.session.commit()  # read what the threads committed
    return results, errors
