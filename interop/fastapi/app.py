"""Token Authentication API (refresh tokens and API access tokens) on FastAPI.

Run with `uvicorn app:app`; see README.md.
"""

import hashlib
import json
import logging
import os
import secrets
import sqlite3
import sys
import tempfile
import unicodedata
import urllib.parse
from contextlib import asynccontextmanager, contextmanager
from datetime import datetime, timedelta, timezone
from enum import Enum
from typing import Annotated, Any, Iterator, TypeVar

from fastapi import Depends, FastAPI, HTTPException, Request, status
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, Field, StringConstraints, ValidationError
from pwdlib import PasswordHash

log = logging.getLogger("tokenauth")

SLIPS = {
    "wrong-password-403", "validate-ignores-user", "revoke-all-user-tokens", "regen-keeps-old",
    "mint-from-revoked", "access-lifespan-days", "bigint-500", "user-enumeration",
    "dead-access-active", "trims-password", "names-nfc", "names-unquoted",
}
SLIP = os.environ.get("INTEROP_SLIP", "")
if SLIP and SLIP not in SLIPS:
    sys.exit(f"INTEROP_SLIP={SLIP!r} is not a known slip; known: {', '.join(sorted(SLIPS))}")

# Vendor defaults: "60 days and 24 hours respectively".
REFRESH_TOKEN_LIFESPAN_DAYS = 60
ACCESS_TOKEN_LIFESPAN_HOURS = 24
REFRESH_TOKEN_LIFESPAN = timedelta(days=REFRESH_TOKEN_LIFESPAN_DAYS)
if SLIP == "access-lifespan-days":
    # SLIP access-lifespan-days: the setting is in hours, read as days.
    ACCESS_TOKEN_LIFESPAN = timedelta(days=ACCESS_TOKEN_LIFESPAN_HOURS)
else:
    ACCESS_TOKEN_LIFESPAN = timedelta(hours=ACCESS_TOKEN_LIFESPAN_HOURS)

SEED_USERS = [
    ("alice@example.com", "alice-Secret-1"),
    ("bob@example.com", "bob-Secret-2"),
    ("sso.user@example.com", None),  # signs in through SSO: no usable password here
]

password_hash = PasswordHash.recommended()
if os.environ.get("INTEROP_FAST_HASHING"):
    # A test deployment may lower the hasher's cost (the zoo's test run sets this); nothing the
    # API answers depends on it.
    from pwdlib.hashers.argon2 import Argon2Hasher

    password_hash = PasswordHash((Argon2Hasher(time_cost=1, memory_cost=8 * 1024, parallelism=1),))
DUMMY_HASH = password_hash.hash("dummy password")  # keeps unknown users as slow as wrong passwords


# ---------------------------------------------------------------- storage

SCHEMA = """
PRAGMA journal_mode = WAL;
CREATE TABLE users (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    username TEXT NOT NULL UNIQUE,
    password_hash TEXT,             -- NULL: signs in through SSO
    is_sso INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE refresh_tokens (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id INTEGER NOT NULL REFERENCES users(id),
    name TEXT NOT NULL,
    token_digest TEXT NOT NULL UNIQUE,
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    last_used_at TEXT,
    revoked_at TEXT
);
CREATE TABLE access_tokens (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id INTEGER NOT NULL REFERENCES users(id),
    refresh_token_id INTEGER NOT NULL REFERENCES refresh_tokens(id),
    token_digest TEXT NOT NULL UNIQUE,
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    revoked_at TEXT
);
CREATE INDEX access_tokens_refresh ON access_tokens(refresh_token_id);
"""


def connect(path: str) -> sqlite3.Connection:
    # Autocommit mode; writes take explicit BEGIN IMMEDIATE transactions (see `transaction`).
    db = sqlite3.connect(path, timeout=30, isolation_level=None, check_same_thread=False)
    db.row_factory = sqlite3.Row
    return db


def init_db(path: str) -> None:
    db = connect(path)
    try:
        db.executescript(SCHEMA)
        for username, password in SEED_USERS:
            db.execute(
                "INSERT INTO users (username, password_hash, is_sso) VALUES (?, ?, ?)",
                (username, password and password_hash.hash(password), password is None),
            )
    finally:
        db.close()


def get_db(request: Request) -> Iterator[sqlite3.Connection]:
    db = connect(request.app.state.db_path)
    try:
        yield db
    finally:
        db.close()


DB = Annotated[sqlite3.Connection, Depends(get_db)]


@contextmanager
def transaction(db: sqlite3.Connection) -> Iterator[None]:
    # IMMEDIATE takes SQLite's write lock up front, so read-check-write sequences on tokens
    # run one at a time ("Operations behave as if done one at a time").
    db.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def ts(value: datetime) -> str:
    return value.isoformat(timespec="microseconds")  # fixed width: compares correctly as text


def parse_ts(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def new_token(nbytes: int) -> tuple[str, str]:
    """A fresh token value and the digest that is stored in its place."""
    value = secrets.token_urlsafe(nbytes)
    return value, digest(value)


def digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


# ---------------------------------------------------------------- schemas

class TokenStatus(str, Enum):
    ACTIVE = "ACTIVE"
    EXPIRED = "EXPIRED"
    REVOKED = "REVOKED"


# "Missing or empty fields: refused with a 4xx": hence min_length=1 on the strings.
NonEmptyStr = Annotated[str, Field(min_length=1)]
# SQLite integers are 64-bit; a larger id can name no user, so it is refused by validation.
if SLIP == "bigint-500":
    # SLIP bigint-500: no upper bound, so a huge id reaches sqlite3 and overflows there.
    UserId = Annotated[int, Field(gt=0)]
else:
    UserId = Annotated[int, Field(gt=0, le=2**63 - 1)]
if SLIP == "trims-password":
    # SLIP trims-password: surrounding white space is stripped before the password is checked.
    Password = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]
else:
    Password = NonEmptyStr


class CreateRefreshTokenIn(BaseModel):
    username: NonEmptyStr
    password: Password
    name: Annotated[str, Field(min_length=1, max_length=255)]


class RefreshTokenIn(BaseModel):
    refresh_token: NonEmptyStr
    user_id: UserId


class AccessTokenIn(BaseModel):
    api_access_token: NonEmptyStr
    user_id: UserId


class RefreshTokenOut(BaseModel):
    user_id: int
    created_at: datetime
    token_expires_at: datetime
    token_status: TokenStatus
    last_used_at: datetime | None
    name: str
    refresh_token: str


class AccessTokenOut(BaseModel):
    user_id: int
    created_at: datetime
    token_expires_at: datetime
    token_status: TokenStatus
    api_access_token: str


class Detail(BaseModel):
    detail: str


# ---------------------------------------------------------------- request bodies

M = TypeVar("M", bound=BaseModel)
FORM_TYPES = {"application/x-www-form-urlencoded", "multipart/form-data"}


def body_of(model: type[M]):
    """Dependency: the request body as `model`, from JSON, urlencoded or multipart form.

    The API takes all three on every endpoint (api-behaviour.md: "the server MUST accept all
    three"), which a single FastAPI body parameter does not, so the body is read here.
    Failures raise RequestValidationError, rendered by FastAPI's own 422 handler.
    """

    async def dependency(request: Request) -> M:
        content_type = request.headers.get("content-type", "")
        media_type = content_type.split(";", 1)[0].strip().lower()
        if media_type in FORM_TYPES:
            try:
                async with request.form() as form:
                    data: Any = dict(form)  # a repeated field: the last value wins
            except Exception as e:
                raise HTTPException(status.HTTP_400_BAD_REQUEST, "There was an error parsing the body") from e
        elif not media_type or media_type == "application/json" or (
            media_type.startswith("application/") and media_type.endswith("+json")
        ):
            body = await request.body()
            if not body:
                raise RequestValidationError(
                    [{"type": "missing", "loc": ("body",), "msg": "Field required", "input": None}]
                )
            try:
                data = json.loads(body)
                # A lone surrogate ("\ud800") or NaN decodes, but FastAPI would fail to echo it in
                # its 422 and answer 500 ("Any other 5xx, for any input at all, is a failure").
                json.dumps(data, ensure_ascii=False, allow_nan=False).encode()
            except json.JSONDecodeError as e:
                raise RequestValidationError(
                    [{"type": "json_invalid", "loc": ("body", e.pos), "msg": "JSON decode error",
                      "input": {}, "ctx": {"error": e.msg}}],
                    body=e.doc,
                ) from e
            except Exception as e:
                raise HTTPException(status.HTTP_400_BAD_REQUEST, "There was an error parsing the body") from e
        else:
            # FastAPI would report such a body as a 422; api-behaviour.md prefers
            # "415 for a media type the operation does not take".
            raise HTTPException(status.HTTP_415_UNSUPPORTED_MEDIA_TYPE, f"Unsupported media type {media_type!r}.")
        try:
            return model.model_validate(data)
        except ValidationError as e:
            errors = [{**err, "loc": ("body", *err["loc"])} for err in e.errors(include_url=False)]
            raise RequestValidationError(errors, body=data) from e

    return Depends(dependency)


def openapi_body(model: type[BaseModel]) -> dict:
    schema = model.model_json_schema()
    media = ("application/json", "application/x-www-form-urlencoded", "multipart/form-data")
    return {"requestBody": {"required": True, "content": {m: {"schema": schema} for m in media}}}


# ---------------------------------------------------------------- token rules

INVALID_REFRESH = "Refresh token provided is invalid."
DEAD_REFRESH = "Refresh token provided is expired or revoked."
INVALID_ACCESS = "API Access Token provided is invalid."
DEAD_ACCESS = "API Access Token provided is expired or revoked."


def unauthorized(detail: str) -> HTTPException:
    return HTTPException(status.HTTP_401_UNAUTHORIZED, detail)


def token_status(row: sqlite3.Row, now: datetime) -> TokenStatus:
    if row["revoked_at"]:
        return TokenStatus.REVOKED
    if now >= parse_ts(row["expires_at"]):
        return TokenStatus.EXPIRED
    return TokenStatus.ACTIVE


def find_token(db: sqlite3.Connection, table: str, value: str, user_id: int | None) -> sqlite3.Row | None:
    """The token with this value in `table`, owned by `user_id` (any owner when None)."""
    query, params = f"SELECT * FROM {table} WHERE token_digest = ?", [digest(value)]
    if user_id is not None:
        query, params = query + " AND user_id = ?", params + [user_id]
    return db.execute(query, params).fetchone()


def find_refresh_token(db: sqlite3.Connection, value: str, user_id: int | None) -> sqlite3.Row:
    row = find_token(db, "refresh_tokens", value, user_id)
    if row is None:
        raise unauthorized(INVALID_REFRESH)
    return row


def live_refresh_token(db: sqlite3.Connection, value: str, user_id: int | None) -> sqlite3.Row:
    row = find_refresh_token(db, value, user_id)
    if token_status(row, utcnow()) is not TokenStatus.ACTIVE:
        raise unauthorized(DEAD_REFRESH)
    return row


def refresh_token_out(row: sqlite3.Row, value: str, state: TokenStatus) -> RefreshTokenOut:
    return RefreshTokenOut(
        user_id=row["user_id"], created_at=parse_ts(row["created_at"]),
        token_expires_at=parse_ts(row["expires_at"]), token_status=state,
        last_used_at=parse_ts(row["last_used_at"]), name=row["name"], refresh_token=value,
    )


def access_token_out(row: sqlite3.Row, value: str, state: TokenStatus) -> AccessTokenOut:
    return AccessTokenOut(
        user_id=row["user_id"], created_at=parse_ts(row["created_at"]),
        token_expires_at=parse_ts(row["expires_at"]), token_status=state, api_access_token=value,
    )


def insert_refresh_token(db: sqlite3.Connection, user_id: int, name: str) -> tuple[sqlite3.Row, str]:
    value, token_digest = new_token(64)
    now = utcnow()
    cur = db.execute(
        "INSERT INTO refresh_tokens (user_id, name, token_digest, created_at, expires_at)"
        " VALUES (?, ?, ?, ?, ?)",
        (user_id, name, token_digest, ts(now), ts(now + REFRESH_TOKEN_LIFESPAN)),
    )
    return db.execute("SELECT * FROM refresh_tokens WHERE id = ?", (cur.lastrowid,)).fetchone(), value


# ---------------------------------------------------------------- app

@asynccontextmanager
async def lifespan(app: FastAPI):
    with tempfile.TemporaryDirectory(prefix="tokenauth-") as tmp:
        app.state.db_path = os.path.join(tmp, "tokens.sqlite3")
        init_db(app.state.db_path)
        if SLIP:
            log.warning("INTEROP_SLIP=%s is switched on", SLIP)
        yield


app = FastAPI(
    title="Token Authentication and Management APIs",
    lifespan=lifespan,
    # Vendor page: the specification is at "{InstanceURL}/openapi/api_authentication/" and
    # "The Swagger UI is not enabled by default on an instance".
    openapi_url="/openapi/api_authentication/",
    docs_url=None,
    redoc_url=None,
)
v1 = "/integration/v1"


CreateBody = Annotated[CreateRefreshTokenIn, body_of(CreateRefreshTokenIn)]
RefreshBody = Annotated[RefreshTokenIn, body_of(RefreshTokenIn)]
AccessBody = Annotated[AccessTokenIn, body_of(AccessTokenIn)]


@app.post(f"{v1}/createRefreshToken/", status_code=status.HTTP_201_CREATED,
          response_model=RefreshTokenOut, openapi_extra=openapi_body(CreateRefreshTokenIn))
def create_refresh_token(db: DB, body: CreateBody):
    user = db.execute("SELECT * FROM users WHERE username = ?", (body.username,)).fetchone()
    if user is None:
        password_hash.verify(body.password, DUMMY_HASH)  # as slow as a wrong password
        if SLIP == "user-enumeration":
            # SLIP user-enumeration: a helpful "not found" tells callers which users exist.
            raise HTTPException(status.HTTP_404_NOT_FOUND, "User not found.")
        authenticated = False
    elif user["is_sso"]:
        # "Users who log in through SSO cannot create refresh tokens through this API": 403.
        raise HTTPException(status.HTTP_403_FORBIDDEN,
                            "SSO users create their refresh tokens in the UI at /account/auth.")
    else:
        authenticated = password_hash.verify(body.password, user["password_hash"])
    if not authenticated:
        if SLIP == "wrong-password-403":
            # SLIP wrong-password-403: "forbidden" chosen for bad credentials.
            raise HTTPException(status.HTTP_403_FORBIDDEN, "Incorrect username or password.")
        raise unauthorized("Incorrect username or password.")
    name = body.name
    if SLIP == "names-nfc":
        # SLIP names-nfc: names normalised "so that equal-looking names compare equal".
        name = unicodedata.normalize("NFC", name)
    if SLIP == "names-unquoted":
        # SLIP names-unquoted: decoded once more, "in case a client URL-encoded it".
        name = urllib.parse.unquote(name)
    with transaction(db):
        row, value = insert_refresh_token(db, user["id"], name)
    return refresh_token_out(row, value, TokenStatus.ACTIVE)


@app.post(f"{v1}/validateRefreshToken/", response_model=RefreshTokenOut,
          openapi_extra=openapi_body(RefreshTokenIn))
def validate_refresh_token(db: DB, body: RefreshBody):
    # SLIP validate-ignores-user: the owner is not passed to the look-up.
    owner = None if SLIP == "validate-ignores-user" else body.user_id
    row = live_refresh_token(db, body.refresh_token, owner)
    return refresh_token_out(row, body.refresh_token, TokenStatus.ACTIVE)


@app.post(f"{v1}/regenRefreshToken/", response_model=RefreshTokenOut,
          openapi_extra=openapi_body(RefreshTokenIn))
def regen_refresh_token(db: DB, body: RefreshBody):
    with transaction(db):
        old = find_refresh_token(db, body.refresh_token, body.user_id)
        if old["revoked_at"]:  # an expired token may be regenerated, a revoked one may not
            raise unauthorized(DEAD_REFRESH)
        if SLIP != "regen-keeps-old":  # SLIP regen-keeps-old: the old token is never revoked.
            now = ts(utcnow())
            db.execute("UPDATE refresh_tokens SET revoked_at = ? WHERE id = ?", (now, old["id"]))
            db.execute("UPDATE access_tokens SET revoked_at = ? WHERE refresh_token_id = ? AND revoked_at IS NULL",
                       (now, old["id"]))
        row, value = insert_refresh_token(db, old["user_id"], old["name"])
    return refresh_token_out(row, value, TokenStatus.ACTIVE)


@app.post(f"{v1}/createAPIAccessToken/", status_code=status.HTTP_201_CREATED,
          response_model=AccessTokenOut, openapi_extra=openapi_body(RefreshTokenIn))
def create_api_access_token(db: DB, body: RefreshBody):
    with transaction(db):
        refresh = find_refresh_token(db, body.refresh_token, body.user_id)
        now = utcnow()
        state = token_status(refresh, now)
        if SLIP == "mint-from-revoked":
            dead = state is TokenStatus.EXPIRED  # SLIP mint-from-revoked: only the expiry is checked.
        else:
            dead = state is not TokenStatus.ACTIVE
        if dead:
            raise unauthorized(DEAD_REFRESH)
        value, token_digest = new_token(32)
        cur = db.execute(
            "INSERT INTO access_tokens (user_id, refresh_token_id, token_digest, created_at, expires_at)"
            " VALUES (?, ?, ?, ?, ?)",
            (refresh["user_id"], refresh["id"], token_digest, ts(now), ts(now + ACCESS_TOKEN_LIFESPAN)),
        )
        db.execute("UPDATE refresh_tokens SET last_used_at = ? WHERE id = ?", (ts(now), refresh["id"]))
        row = db.execute("SELECT * FROM access_tokens WHERE id = ?", (cur.lastrowid,)).fetchone()
    return access_token_out(row, value, TokenStatus.ACTIVE)


@app.post(f"{v1}/validateAPIAccessToken/", response_model=AccessTokenOut,
          openapi_extra=openapi_body(AccessTokenIn))
def validate_api_access_token(db: DB, body: AccessBody):
    # SLIP validate-ignores-user: the owner is not passed to the look-up.
    owner = None if SLIP == "validate-ignores-user" else body.user_id
    row = find_token(db, "access_tokens", body.api_access_token, owner)
    if row is None:
        raise unauthorized(INVALID_ACCESS)
    # SLIP dead-access-active: the row was found; its state is never looked at.
    if SLIP != "dead-access-active" and token_status(row, utcnow()) is not TokenStatus.ACTIVE:
        raise unauthorized(DEAD_ACCESS)
    return access_token_out(row, body.api_access_token, TokenStatus.ACTIVE)


@app.post(f"{v1}/revokeAPIAccessTokens/", response_model=Detail,
          openapi_extra=openapi_body(RefreshTokenIn))
def revoke_api_access_tokens(db: DB, body: RefreshBody):
    with transaction(db):
        refresh = live_refresh_token(db, body.refresh_token, body.user_id)
        now = ts(utcnow())
        if SLIP == "revoke-all-user-tokens":
            # SLIP revoke-all-user-tokens: scoped by the owner instead of the refresh token.
            scope, key = "user_id", refresh["user_id"]
        else:
            scope, key = "refresh_token_id", refresh["id"]
        cur = db.execute(
            f"UPDATE access_tokens SET revoked_at = ? WHERE {scope} = ? AND revoked_at IS NULL AND expires_at > ?",
            (now, key, now),
        )
    return Detail(detail=f"Revoked {cur.rowcount} API access token(s) minted from this refresh token.")
