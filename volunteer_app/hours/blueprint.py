"""The hours blueprint: its routes are registered by importing the view modules."""

from flask import Blueprint

bp = Blueprint("hours", __name__)

from . import views_lead, views_organiser, views_volunteer  # noqa: E402, F401
