"""Account forms."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import BooleanField, PasswordField, StringField, SubmitField
from wtforms.validators import DataRequired, EqualTo, Length

from ..forms import FlaskForm, PhoneField

_PHONE_RENDER = {"autocomplete": "tel", "inputmode": "numeric", "maxlength": 16}


class PhoneForm(FlaskForm):
    """Step 1 of registration and of a password reset: the number to send a code to."""

    phone = PhoneField(
        _l("Mobile number"),
        validators=[DataRequired(_l("Please enter your mobile number."))],
        render_kw=_PHONE_RENDER,
    )
    submit = SubmitField(_l("Send verification code"))


_CODE = {
    "inputmode": "numeric",
    "autocomplete": "one-time-code",
    "maxlength": 6,
    "pattern": "[0-9]*",
}


def _code_field() -> StringField:
    return StringField(
        _l("Verification code"),
        validators=[DataRequired(_l("Please enter the 6-digit code from the SMS.")), Length(max=6)],
        render_kw=_CODE,
    )


def _new_password_fields(label, repeat_label, missing, repeat_missing):
    """A new password and its confirmation, with the rule shown under the first."""
    password = PasswordField(
        label,
        validators=[DataRequired(missing)],
        description=_l("At least 8 characters, with letters and digits."),
        render_kw={"autocomplete": "new-password"},
    )
    confirm = PasswordField(
        repeat_label,
        validators=[
            DataRequired(repeat_missing),
            EqualTo("password", _l("The two passwords do not match.")),
        ],
        render_kw={"autocomplete": "new-password"},
    )
    return password, confirm


class RegisterForm(FlaskForm):
    """Step 2: the code from the SMS and a password."""

    code = _code_field()
    password, confirm = _new_password_fields(
        _l("Password"),
        _l("Repeat password"),
        _l("Please choose a password."),
        _l("Please repeat the password."),
    )
    submit = SubmitField(_l("Create account"))


class LoginForm(FlaskForm):
    phone = PhoneField(
        _l("Mobile number"),
        validators=[DataRequired(_l("Please enter your mobile number."))],
        render_kw=_PHONE_RENDER | {"autocomplete": "username"},
    )
    password = PasswordField(
        _l("Password"),
        validators=[DataRequired(_l("Please enter your password."))],
        render_kw={"autocomplete": "current-password"},
    )
    remember = BooleanField(_l("Keep me logged in on this phone"))
    submit = SubmitField(_l("Log in"))


class CodeLoginForm(FlaskForm):
    """Logging in with the code from the SMS instead of the password."""

    code = _code_field()
    submit = SubmitField(_l("Log in"))


class ResetForm(FlaskForm):
    code = _code_field()
    password, confirm = _new_password_fields(
        _l("New password"),
        _l("Repeat new password"),
        _l("Please choose a new password."),
        _l("Please repeat the new password."),
    )
    submit = SubmitField(_l("Set new password"))


class ChangePasswordForm(FlaskForm):
    current = PasswordField(
        _l("Current password"),
        validators=[DataRequired(_l("Please enter your current password."))],
        render_kw={"autocomplete": "current-password"},
    )
    new = PasswordField(
        _l("New password"),
        validators=[DataRequired(_l("Please choose a new password.")), Length(max=128)],
        description=_l("At least 8 characters, with letters and digits."),
        render_kw={"autocomplete": "new-password"},
    )
    confirm = PasswordField(
        _l("Repeat new password"),
        validators=[
            DataRequired(_l("Please repeat the new password.")),
            EqualTo("new", _l("The two passwords do not match.")),
        ],
        render_kw={"autocomplete": "new-password"},
    )
    submit = SubmitField(_l("Change password"))
