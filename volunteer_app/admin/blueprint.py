"""The admin blueprint: its routes are registered by importing the view modules."""

from flask import Blueprint

bp = Blueprint("admin", __name__)

from . import views  # noqa: E402, F401
