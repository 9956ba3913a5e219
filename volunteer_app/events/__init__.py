from importlib.util import find_spec

from flask import Blueprint

bp = Blueprint("events", __name__)

from . import views  # noqa: E402, F401

if find_spec(f"{__name__}.organise_views"):  # the organisers' pages, while being written
    from . import organise_views  # noqa: F401
