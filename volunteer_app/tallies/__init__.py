from flask import Blueprint

bp = Blueprint("tallies", __name__)

from . import views  # noqa: E402, F401
