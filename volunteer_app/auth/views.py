"""Register, log in, log out, change password."""

from __future__ import annotations

from flask import current_app, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required, login_user, logout_user

from ..extensions import limiter
from ..hooks import seen_now
from ..i18n import LANG_COOKIE, LARGE_TEXT_COOKIE, select_locale
from ..models import CodePurpose
from ..query import safe_next
from ..ratelimits import form_phone_key, limit, session_phone_key
from ..services import ServiceError, accounts, audit, notify, sms
from ..timeutil import utcnow
from ..web import after_commit, refuse
from .blueprint import bp
from .forms import (
    ChangePasswordForm,
    CodeLoginForm,
    LoginForm,
    PhoneForm,
    RegisterForm,
    ResetForm,
)


def adopt_visitor_preferences(user) -> None:
    """Large text (and a language) chosen before logging in stay on after it."""
    if request.cookies.get(LARGE_TEXT_COOKIE) == "1" and not user.large_text:
        accounts.set_preferences(user, large_text=True)
    lang = request.cookies.get(LANG_COOKIE)
    if user.locale is None and lang in current_app.config["LANGUAGES"]:
        accounts.set_preferences(user, locale=lang)


def _add_errors(form, messages: list[str]) -> None:
    form.form_errors.extend(messages)


def _send_code(purpose: CodePurpose, form: PhoneForm, session_key: str):
    """Send a code (or a notice) and move to step 2; the answer is the same either way."""
    try:
        outbox_id = sms.request_code(form.phone.data, purpose, now=utcnow(), locale=select_locale())
    except ServiceError as error:
        refuse(error, form)
        return None
    after_commit(lambda: notify.deliver([outbox_id]))  # sent once the code is kept
    session[session_key] = form.phone.data
    flash(
        _(
            "A message is on its way to %(phone)s. A code is valid for 5 minutes.",
            phone=form.phone.data,
        ),
        "info",
    )
    return redirect(url_for(f"auth.{session_key}_verify"))


@bp.route("/register", methods=["GET", "POST"])
@limiter.limit(lambda: current_app.config["RATELIMIT_REGISTER"], methods=["POST"])
@limiter.shared_limit(
    limit("RATELIMIT_CODE_PHONE"), "sms-code", key_func=form_phone_key, methods=["POST"]
)
def register():
    if current_user.is_authenticated:
        return redirect(url_for("main.index"))
    form = PhoneForm()
    if form.validate_on_submit():
        sent = _send_code(CodePurpose.REGISTER, form, "register")
        if sent is not None:
            return sent
    return render_template("auth/register.html", form=form)


@bp.route("/register/verify", methods=["GET", "POST"])
@limiter.limit(lambda: current_app.config["RATELIMIT_REGISTER"], methods=["POST"])
@limiter.limit(
    limit("RATELIMIT_VERIFY_PHONE"), key_func=session_phone_key("register"), methods=["POST"]
)
def register_verify():
    phone = session.get("register")
    if not phone:
        return redirect(url_for("auth.register"))
    form = RegisterForm()
    if form.validate_on_submit():
        try:
            sms.check_code(phone, CodePurpose.REGISTER, form.code.data, now=utcnow())
        except ServiceError as error:
            form.form_errors.extend(error.messages)
            return render_template("auth/register_verify.html", form=form, phone=phone)
        try:
            user = accounts.register(
                phone,
                form.password.data,
                locale=select_locale(),
                ip=request.remote_addr,
                phone_verified=True,
            )
            adopt_visitor_preferences(user)
        except ServiceError as error:
            refuse(error, form)
        else:
            session.pop("register", None)
            login_user(user)
            seen_now()
            flash(_("Welcome! Your account has been created."), "success")
            return redirect(url_for("volunteers.step_consent"))
    return render_template("auth/register_verify.html", form=form, phone=phone)


@bp.route("/reset", methods=["GET", "POST"])
@limiter.limit(lambda: current_app.config["RATELIMIT_REGISTER"], methods=["POST"])
@limiter.shared_limit(
    limit("RATELIMIT_CODE_PHONE"), "sms-code", key_func=form_phone_key, methods=["POST"]
)
def reset():
    form = PhoneForm()
    if form.validate_on_submit():
        sent = _send_code(CodePurpose.RESET, form, "reset")
        if sent is not None:
            return sent
    return render_template("auth/reset.html", form=form)


@bp.route("/reset/verify", methods=["GET", "POST"])
@limiter.limit(lambda: current_app.config["RATELIMIT_LOGIN"], methods=["POST"])
@limiter.limit(
    limit("RATELIMIT_VERIFY_PHONE"), key_func=session_phone_key("reset"), methods=["POST"]
)
def reset_verify():
    phone = session.get("reset")
    if not phone:
        return redirect(url_for("auth.reset"))
    form = ResetForm()
    if form.validate_on_submit():
        try:
            sms.check_code(phone, CodePurpose.RESET, form.code.data, now=utcnow())
            accounts.reset_password(phone, form.password.data, ip=request.remote_addr)
        except ServiceError as error:
            form.form_errors.extend(error.messages)
        else:
            session.pop("reset", None)
            flash(_("Your password has been reset. Please log in."), "success")
            return redirect(url_for("auth.login", phone=phone))
    return render_template("auth/reset_verify.html", form=form, phone=phone)


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(lambda: current_app.config["RATELIMIT_LOGIN"], methods=["POST"])
@limiter.limit(limit("RATELIMIT_LOGIN_PHONE"), key_func=form_phone_key, methods=["POST"])
def login():
    if current_user.is_authenticated:
        return redirect(safe_next())
    form = LoginForm()
    if request.method == "GET" and request.args.get("phone"):
        form.phone.data = accounts.normalise_phone(request.args["phone"])[:11]
    if form.validate_on_submit():
        result = accounts.authenticate(
            form.phone.data,
            form.password.data,
            max_failures=current_app.config["LOGIN_MAX_FAILURES"],
            lock_minutes=current_app.config["LOGIN_LOCK_MINUTES"],
            ip=request.remote_addr,
        )
        if result.user is not None:
            adopt_visitor_preferences(result.user)
        if result.user is not None:
            # Staff sessions end with the browser and after the idle timeout.
            remember = bool(form.remember.data) and not result.user.is_staff
            login_user(result.user, remember=remember)
            session.permanent = remember
            seen_now()
            flash(_("You are logged in."), "success")
            return redirect(safe_next())
        form.form_errors.append(result.error)
    return render_template("auth/login.html", form=form)


@bp.route("/sms-login", methods=["GET", "POST"])
@limiter.limit(lambda: current_app.config["RATELIMIT_REGISTER"], methods=["POST"])
def login_code():
    """Log in with a code by SMS: the same sending limits as registration."""
    if current_user.is_authenticated:
        return redirect(safe_next())
    form = PhoneForm()
    if form.validate_on_submit():
        sent = _send_code(CodePurpose.LOGIN, form, "login_code")
        if sent is not None:
            return sent
    return render_template("auth/login_code.html", form=form)


@bp.route("/sms-login/verify", methods=["GET", "POST"])
@limiter.limit(lambda: current_app.config["RATELIMIT_LOGIN"], methods=["POST"])
def login_code_verify():
    phone = session.get("login_code")
    if not phone:
        return redirect(url_for("auth.login_code"))
    form = CodeLoginForm()
    if form.validate_on_submit():
        try:
            user = accounts.login_with_code(
                phone, form.code.data, now=utcnow(), ip=request.remote_addr
            )
        except ServiceError as error:
            form.form_errors.extend(error.messages)
        else:
            adopt_visitor_preferences(user)
            session.pop("login_code", None)
            login_user(user)
            seen_now()
            flash(_("You are logged in."), "success")
            return redirect(safe_next())
    return render_template("auth/login_code_verify.html", form=form, phone=phone)


@bp.route("/logout", methods=["POST"])
def logout():
    if current_user.is_authenticated:
        audit.record("auth.logout", actor=current_user, ip=request.remote_addr)
    logout_user()
    session.pop("seen", None)
    flash(_("You are logged out."), "info")
    return redirect(url_for("main.index"))


@bp.route("/password", methods=["GET", "POST"])
@login_required
def change_password():
    form = ChangePasswordForm()
    if form.validate_on_submit():
        try:
            accounts.change_password(
                current_user, form.current.data, form.new.data, ip=request.remote_addr
            )
        except ServiceError as error:
            _add_errors(form, error.messages)
        else:
            flash(_("Your password has been changed."), "success")
            return redirect(url_for("main.index"))
    return render_template("auth/change_password.html", form=form)
