from flask import Blueprint

bp = Blueprint("exchange", __name__)

from . import views  # noqa: E402, F401
