"""The workspace's blueprint, registered under /organise."""

from flask import Blueprint

bp = Blueprint("organise", __name__)

from . import views, views_messages, views_sheets  # noqa: E402, F401
