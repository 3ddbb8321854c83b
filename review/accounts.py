"""Staff accounts and what a login leaves in the database: sessions, failed attempts, the shared secret.

Everything here is in the transcript database, never in a process or a data folder, so any number of
instances on one database agree on who is logged in (see `review.auth`).

>>> accounts = TranscriptStore(url).accounts                    # doctest: +SKIP
>>> accounts.add_user("anna", "correct horse battery")          # doctest: +SKIP
>>> accounts.set_password("anna", "another long one")           # ends anna's sessions everywhere
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import sessionmaker

from review.auth import OpenSession
from review.models import LoginFailure, ReviewSecret, StaffLogin, StaffUser

MIN_PASSWORD = 10


class StaffAccounts:
    """Implements `review.auth.SessionTable` and `review.auth.FailureLog` on the transcript database."""

    def __init__(self, sessions: sessionmaker, hasher: PasswordHasher) -> None:
        self._sessions = sessions
        self._hasher = hasher
        self._dummy_hash: str | None = None

    # --- users ---------------------------------------------------------------------------------------

    def add_user(self, name: str, password: str, *, replace_password: bool = False) -> None:
        """Create a staff account (argon2 hash); with replace_password, reset an existing one's password
        (which ends its sessions)."""
        name = _checked_name(name)
        hashed = self._hash(password)
        try:
            with self._sessions.begin() as session:
                user = session.scalar(select(StaffUser).where(StaffUser.name == name))
                if user is not None and not replace_password:
                    raise ValueError(f"user {name!r} exists already")
                if user is None:
                    session.add(StaffUser(name=name, password_hash=hashed, created_at=datetime.now(UTC)))
                else:
                    user.password_hash = hashed
                    session.execute(delete(StaffLogin).where(StaffLogin.user_id == user.id))
        except IntegrityError:
            raise ValueError(f"user {name!r} exists already") from None

    def set_password(self, name: str, password: str) -> int:
        """Change an existing account's password; every session of it ends. Returns how many ended."""
        hashed = self._hash(password)
        with self._sessions.begin() as session:
            user = session.scalar(select(StaffUser).where(StaffUser.name == name.strip()))
            if user is None:
                raise ValueError(f"there is no user {name.strip()!r}")
            user.password_hash = hashed
            return _rowcount(session.execute(delete(StaffLogin).where(StaffLogin.user_id == user.id)))

    def remove_user(self, name: str) -> None:
        """Delete an account and end its sessions (its flags keep the name they were made under)."""
        with self._sessions.begin() as session:
            user = session.scalar(select(StaffUser).where(StaffUser.name == name.strip()))
            if user is None:
                raise ValueError(f"there is no user {name.strip()!r}")
            # Explicit, not left to ON DELETE CASCADE: a session must never outlive its user.
            session.execute(delete(StaffLogin).where(StaffLogin.user_id == user.id))
            session.delete(user)

    def verify_user(self, name: str, password: str) -> bool:
        with self._sessions.begin() as session:
            user = session.scalar(select(StaffUser).where(StaffUser.name == name.strip()))
            if user is None and self._dummy_hash is None:
                self._dummy_hash = self._hasher.hash("not anybody's password")
            try:
                # Verified against a dummy when the user does not exist: a wrong name takes as long as a
                # wrong password, so the timing does not tell which names exist.
                self._hasher.verify(user.password_hash if user else str(self._dummy_hash), password)
            except (VerificationError, InvalidHashError):
                return False
            if user is None:
                return False
            if self._hasher.check_needs_rehash(user.password_hash):
                user.password_hash = self._hasher.hash(password)  # parameters were raised since it was set
            return True

    def list_users(self) -> list[str]:
        with self._sessions() as session:
            return list(session.scalars(select(StaffUser.name).order_by(StaffUser.name)))

    def _hash(self, password: str) -> str:
        if len(password) < MIN_PASSWORD:
            raise ValueError(f"a password must have at least {MIN_PASSWORD} characters")
        return self._hasher.hash(password)

    # --- sessions (review.auth.SessionTable) ------------------------------------------------------------

    def open_session(self, key: str, user: str, csrf: str, lang: str, created: datetime,
                     expires: datetime) -> bool:
        with self._sessions.begin() as session:
            session.execute(delete(StaffLogin).where(StaffLogin.expires_at < created))
            user_id = session.scalar(select(StaffUser.id).where(StaffUser.name == user))
            if user_id is None:
                return False
            session.add(StaffLogin(id=key, user_id=user_id, csrf=csrf, lang=lang, created_at=created,
                                   expires_at=expires))
            return True

    def find_session(self, key: str, now: datetime) -> OpenSession | None:
        with self._sessions() as session:
            row = session.execute(
                select(StaffUser.name, StaffLogin.csrf, StaffLogin.lang).join(StaffLogin.user)
                .where(StaffLogin.id == key, StaffLogin.expires_at > now)
            ).first()
        return OpenSession(row.name, row.csrf, row.lang) if row else None

    def set_session_language(self, key: str, lang: str) -> None:
        with self._sessions.begin() as session:
            row = session.get(StaffLogin, key)
            if row is not None:
                row.lang = lang

    def end_session(self, key: str) -> None:
        with self._sessions.begin() as session:
            session.execute(delete(StaffLogin).where(StaffLogin.id == key))

    def sessions_of(self, name: str, now: datetime | None = None) -> int:
        """How many sessions of this user are open now."""
        with self._sessions() as session:
            return int(session.scalar(
                select(func.count()).select_from(StaffLogin).join(StaffLogin.user)
                .where(StaffUser.name == name.strip(), StaffLogin.expires_at > (now or datetime.now(UTC)))
            ) or 0)

    # --- failed logins (review.auth.FailureLog) ---------------------------------------------------------

    def add_failure(self, name: str, address: str, at: datetime, forget_before: datetime) -> None:
        with self._sessions.begin() as session:
            session.execute(delete(LoginFailure).where(LoginFailure.at < forget_before))
            session.add(LoginFailure(name=name, address=address, at=at))

    def failures_since(self, since: datetime, name: str | None = None,
                       address: str | None = None) -> tuple[int, datetime | None]:
        statement = select(func.count(), func.max(LoginFailure.at)).where(LoginFailure.at > since)
        if name is not None:
            statement = statement.where(LoginFailure.name == name)
        if address is not None:
            statement = statement.where(LoginFailure.address == address)
        with self._sessions() as session:
            count, latest = session.execute(statement).one()
        if isinstance(latest, str):  # SQLite hands max() of a DateTime column back as text
            latest = datetime.fromisoformat(latest)
        if latest is not None and latest.tzinfo is None:
            latest = latest.replace(tzinfo=UTC)
        return int(count or 0), latest

    def clear_failures(self, name: str, address: str) -> None:
        with self._sessions.begin() as session:
            session.execute(delete(LoginFailure).where(LoginFailure.name == name, LoginFailure.address == address))

    # --- the shared secret ------------------------------------------------------------------------------

    def shared_secret(self, name: str) -> str:
        """A secret every instance on this database shares; made by whichever asks first."""
        with self._sessions() as session:
            value = session.scalar(select(ReviewSecret.value).where(ReviewSecret.name == name))
        if value:
            return value
        try:
            with self._sessions.begin() as session:
                session.add(ReviewSecret(name=name, value=secrets.token_urlsafe(48)))
        except IntegrityError:
            pass  # another instance made it in the meantime: use theirs
        with self._sessions() as session:
            return str(session.scalar(select(ReviewSecret.value).where(ReviewSecret.name == name)))


def _checked_name(name: str) -> str:
    name = name.strip()
    if not name or len(name) > 100:
        raise ValueError("a user name must have 1 to 100 characters")
    return name


def _rowcount(result: object) -> int:
    return int(getattr(result, "rowcount", 0) or 0)
