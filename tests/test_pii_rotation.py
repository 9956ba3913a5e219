"""Key rotation (`flask pii reencrypt`): every ID number re-encrypted under the new key and
readable with it alone, the uniqueness hashes re-computed, in batches, resumable, with a dry
run that writes nothing."""

from __future__ import annotations

import pytest
from cryptography.fernet import Fernet
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from volunteer_app.extensions import db
from volunteer_app.models import IdType, User, VolunteerProfile
from volunteer_app.services import ServiceError, pii, volunteers
from volunteer_app.timeutil import local_today

VOLUNTEERS = 23
NEW_KEY = Fernet.generate_key().decode()


@pytest.fixture
def populated(app, make_volunteer):
    """Volunteers whose ID numbers are encrypted under the suite's key; {user_id: number}."""
    users = [make_volunteer(commit=False) for _ in range(VOLUNTEERS)]
    db.session.commit()
    return {u.id: volunteers.id_number_of(db.session.get(VolunteerProfile, u.id)) for u in users}


def _profiles() -> list[VolunteerProfile]:
    db.session.expire_all()
    return list(db.session.scalars(select(VolunteerProfile).order_by(VolunteerProfile.user_id)))


def _run(app, *args: str):
    db.session.commit()
    result = app.test_cli_runner().invoke(args=["pii", "reencrypt", *args])
    db.session.expire_all()
    return result


def test_rotating_keys_reencrypts_every_id_number_readable_with_the_new_key_alone(app, populated):
    old_key = app.config["PII_ENCRYPTION_KEY"]
    app.config["PII_ENCRYPTION_KEY"] = f"{NEW_KEY},{old_key}"
    result = _run(app, "--batch-size", "5")
    assert result.exit_code == 0, result.output
    assert f"re-encrypted {VOLUNTEERS}" in result.output
    assert all(pii.is_current(p.id_number_encrypted) for p in _profiles())

    # The old key retired: every ID number still reads back, with the new key only …
    app.config["PII_ENCRYPTION_KEY"] = NEW_KEY
    assert {p.user_id: volunteers.id_number_of(p) for p in _profiles()} == populated
    # … and once re-hashed, a second registration of a known number is still refused.
    result = _run(app, "--rehash", "--batch-size", "7")
    assert result.exit_code == 0, result.output
    assert f"re-hashed {VOLUNTEERS}" in result.output
    for profile in _profiles():
        number = populated[profile.user_id]
        assert profile.id_hash == pii.keyed_hash(f"resident:{number}")
    first_number = next(iter(populated.values()))
    with pytest.raises(ServiceError) as refused:
        volunteers.set_identity(
            _new_user(), "重复", IdType.RESIDENT, first_number, today=local_today()
        )
    taken = str(_l("This ID number is already registered to another account."))
    assert taken in refused.value.messages


def test_a_dry_run_counts_and_writes_nothing(app, populated):
    app.config["PII_ENCRYPTION_KEY"] = f"{NEW_KEY},{app.config['PII_ENCRYPTION_KEY']}"
    before = [(p.id_number_encrypted, p.id_hash) for p in _profiles()]
    result = _run(app, "--dry-run", "--rehash")
    assert result.exit_code == 0, result.output
    assert f"would re-encrypt {VOLUNTEERS}" in result.output
    assert [(p.id_number_encrypted, p.id_hash) for p in _profiles()] == before


def test_an_interrupted_rotation_resumes_where_it_stopped(app, populated):
    app.config["PII_ENCRYPTION_KEY"] = f"{NEW_KEY},{app.config['PII_ENCRYPTION_KEY']}"
    # A first run that stopped after 10 rows (its batches were committed).
    for profile in _profiles()[:10]:
        profile.id_number_encrypted = pii.rotate(profile.id_number_encrypted)
    result = _run(app, "--batch-size", "4")
    assert result.exit_code == 0, result.output
    assert f"re-encrypted {VOLUNTEERS - 10}, already under the first key 10" in result.output
    again = _run(app)
    assert f"re-encrypted 0, already under the first key {VOLUNTEERS}" in again.output


def test_rows_no_listed_key_opens_are_reported_and_the_rest_is_done(app, populated):
    stranger = Fernet(Fernet.generate_key())
    victim = _profiles()[3]
    victim.id_number_encrypted = stranger.encrypt(b"110101199003074514").decode()
    app.config["PII_ENCRYPTION_KEY"] = f"{NEW_KEY},{app.config['PII_ENCRYPTION_KEY']}"
    result = _run(app)
    assert result.exit_code != 0
    assert f"user ids {victim.user_id}" in result.output
    assert sum(pii.is_current(p.id_number_encrypted) for p in _profiles()) == VOLUNTEERS - 1


def _new_user() -> User:
    user = User(phone="13600000001", password_hash="!", display_name="新人")
    db.session.add(user)
    db.session.flush()
    return user
