"""The events blueprint: its routes are registered by importing the view modules."""

from flask import Blueprint

bp = Blueprint("events", __name__)

from . import organise_views, roster_views, views  # noqa: E402, F401
