from flask import Blueprint

bp = Blueprint("hours", __name__)

from . import views  # noqa: E402, F401
