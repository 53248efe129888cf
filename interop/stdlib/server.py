"""Token Authentication API (refresh and access tokens) on Python's standard library.

Usage: python3 server.py PORT        (INTEROP_SLIP=<name> switches on one deliberate bug)
"""
import email.parser
import email.policy
import hashlib
import hmac
import json
import logging
import os
import re
import secrets
import signal
import sqlite3
import sys
import threading
import unicodedata
import urllib.parse
from datetime import datetime, timedelta, timezone
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

log = logging.getLogger("tokens")

SLIPS = {
    "wrong-password-403", "validate-ignores-user", "revoke-all-user-tokens", "regen-keeps-old",
    "mint-from-revoked", "access-lifespan-days", "bigint-500", "user-enumeration",
    "dead-access-active", "trims-password", "names-nfc", "names-unquoted",
}
SLIP = os.environ.get("INTEROP_SLIP", "")

# Vendor page: "default expiration times for RefreshToken and APIAccessToken are 60 days and 24 hours".
REFRESH_LIFESPAN = timedelta(days=60)
ACCESS_LIFESPAN = timedelta(hours=24)
if SLIP == "access-lifespan-days":
    ACCESS_LIFESPAN = timedelta(days=24)  # SLIP access-lifespan-days: hours and days mixed up

MAX_BODY = 1 << 20
MAX_NAME = 255  # api-behaviour.md: names "up to 255 characters"
INT64_MAX = 2**63 - 1
DIGITS = re.compile(r"[0-9]+")

INVALID_RT = "Refresh token provided is invalid."
DEAD_RT = "Refresh token provided is expired or revoked."
INVALID_AT = "API Access Token provided is invalid."
DEAD_AT = "API Access Token provided is expired or revoked."
BAD_LOGIN = "Invalid username or password."

SCHEMA = """
CREATE TABLE users (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    username TEXT NOT NULL UNIQUE,
    password_hash TEXT            -- NULL: signs in through SSO only
);
CREATE TABLE refresh_tokens (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id INTEGER NOT NULL REFERENCES users(id),
    digest TEXT NOT NULL UNIQUE,  -- sha256 of the value; the value itself is never stored
    name TEXT NOT NULL,
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    last_used_at TEXT,
    revoked INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE access_tokens (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id INTEGER NOT NULL REFERENCES users(id),
    refresh_token_id INTEGER NOT NULL REFERENCES refresh_tokens(id),
    digest TEXT NOT NULL UNIQUE,
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    revoked INTEGER NOT NULL DEFAULT 0
);
"""


class ApiError(Exception):
    def __init__(self, status, detail):
        super().__init__(detail)
        self.status, self.detail = status, detail


# --- helpers -------------------------------------------------------------------------------

def timestamp(dt):
    # api-behaviour.md: "RFC 3339 in UTC with six fractional digits and `Z`". Fixed width, so the
    # stored strings also compare correctly as text.
    return dt.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def hash_password(password, salt=None):
    salt = salt or secrets.token_bytes(16)
    key = hashlib.scrypt(password.encode(), salt=salt, n=2**14, r=8, p=1)
    return f"scrypt${salt.hex()}${key.hex()}"


def check_password(password, stored):
    _, salt, key = stored.split("$")
    return hmac.compare_digest(hash_password(password, bytes.fromhex(salt)).split("$")[2], key)


DUMMY_HASH = hash_password(secrets.token_urlsafe())  # equalises timing for unknown users


def digest(value):
    return hashlib.sha256(value.encode()).hexdigest()


def is_expired(row, now):
    return row["expires_at"] <= timestamp(now)


def text_field(data, key, max_len=None):
    value = data.get(key)
    if value is None or value == "":
        raise ApiError(400, f"{key}: this field is required.")
    if not isinstance(value, str):
        raise ApiError(400, f"{key}: must be a string.")
    try:
        value.encode()
    except UnicodeEncodeError:
        raise ApiError(400, f"{key}: not valid Unicode text.") from None
    if max_len and len(value) > max_len:
        raise ApiError(400, f"{key}: at most {max_len} characters.")
    return value


def user_id_field(data):
    # api-behaviour.md: "`user_id` arrives as a JSON number, or as a string ... accept both".
    value = data.get("user_id")
    if value is None or value == "":
        raise ApiError(400, "user_id: this field is required.")
    if isinstance(value, str) and DIGITS.fullmatch(value):
        try:
            value = int(value)
        except ValueError:  # longer than int()'s digit limit
            raise ApiError(400, "user_id: out of range.") from None
    if isinstance(value, bool) or not isinstance(value, int):
        raise ApiError(400, "user_id: must be an integer.")
    # SLIP bigint-500: the range check is missing, SQLite's OverflowError escapes as a 500.
    if SLIP != "bigint-500" and not -INT64_MAX - 1 <= value <= INT64_MAX:
        raise ApiError(400, "user_id: out of range.")
    return value


# --- the store and the six operations ------------------------------------------------------

class TokenStore:
    def __init__(self):
        # One in-memory connection shared by all request threads; the lock serialises every
        # operation ("Operations behave as if done one at a time").
        self.db = sqlite3.connect(":memory:", check_same_thread=False)
        self.db.row_factory = sqlite3.Row
        self.db.executescript(SCHEMA)
        self.lock = threading.Lock()
        with self.db:
            for username, password in [("alice@example.com", "alice-Secret-1"),
                                       ("bob@example.com", "bob-Secret-2"),
                                       ("sso.user@example.com", None)]:
                self.db.execute("INSERT INTO users (username, password_hash) VALUES (?, ?)",
                                (username, password and hash_password(password)))

    # serialisers: only live tokens are ever returned, dead ones are refused with 401
    @staticmethod
    def refresh_body(row, value):
        return {"user_id": row["user_id"], "created_at": row["created_at"],
                "token_expires_at": row["expires_at"], "token_status": "ACTIVE",
                "last_used_at": row["last_used_at"], "name": row["name"], "refresh_token": value}

    @staticmethod
    def access_body(row, value):
        return {"user_id": row["user_id"], "created_at": row["created_at"],
                "token_expires_at": row["expires_at"], "token_status": "ACTIVE",
                "api_access_token": value}

    def _insert_refresh(self, user_id, name, now):
        value = secrets.token_urlsafe(64)
        cur = self.db.execute(
            "INSERT INTO refresh_tokens (user_id, digest, name, created_at, expires_at)"
            " VALUES (?, ?, ?, ?, ?)",
            (user_id, digest(value), name, timestamp(now), timestamp(now + REFRESH_LIFESPAN)))
        row = self.db.execute("SELECT * FROM refresh_tokens WHERE id = ?", (cur.lastrowid,)).fetchone()
        return self.refresh_body(row, value)

    def _find_refresh(self, value, user_id, check_owner=True):
        sql, args = "SELECT * FROM refresh_tokens WHERE digest = ?", [digest(value)]
        if check_owner:
            sql += " AND user_id = ?"
            args.append(user_id)
        row = self.db.execute(sql, args).fetchone()
        if row is None:
            raise ApiError(401, INVALID_RT)
        return row

    def _live_refresh(self, value, user_id, now, check_owner=True):
        row = self._find_refresh(value, user_id, check_owner)
        if row["revoked"] or is_expired(row, now):
            raise ApiError(401, DEAD_RT)
        return row

    def _revoke_refresh(self, row):
        self.db.execute("UPDATE refresh_tokens SET revoked = 1 WHERE id = ?", (row["id"],))
        self.db.execute("UPDATE access_tokens SET revoked = 1 WHERE refresh_token_id = ?", (row["id"],))

    def create_refresh_token(self, data):
        username = text_field(data, "username")
        password = text_field(data, "password")
        name = text_field(data, "name", MAX_NAME)
        if SLIP == "trims-password":
            password = password.strip()  # SLIP trims-password: "tidying" the input
        with self.lock:
            user = self.db.execute("SELECT * FROM users WHERE username = ?", (username,)).fetchone()
        if user is None:
            check_password(password, DUMMY_HASH)
            if SLIP == "user-enumeration":
                raise ApiError(404, "User not found.")  # SLIP user-enumeration: reveals who exists
            raise ApiError(401, BAD_LOGIN)
        if user["password_hash"] is None:
            # Vendor page: "If your Organization is using SSO ... you need to use the UI";
            # api-behaviour.md: "decision 403 for them".
            raise ApiError(403, "This user signs in through SSO; create refresh tokens in the UI.")
        if not check_password(password, user["password_hash"]):
            # SLIP wrong-password-403: "forbidden" chosen for a failed login
            raise ApiError(403 if SLIP == "wrong-password-403" else 401, BAD_LOGIN)
        if SLIP == "names-nfc":
            # SLIP names-nfc: names normalised "so that equal-looking names compare equal".
            name = unicodedata.normalize("NFC", name)
        if SLIP == "names-unquoted":
            # SLIP names-unquoted: decoded once more, "in case a client URL-encoded it".
            name = urllib.parse.unquote(name)
        with self.lock, self.db:
            return 201, self._insert_refresh(user["id"], name, datetime.now(timezone.utc))

    def validate_refresh_token(self, data):
        value, user_id = text_field(data, "refresh_token"), user_id_field(data)
        now = datetime.now(timezone.utc)
        with self.lock, self.db:
            # SLIP validate-ignores-user: the token is looked up by its value alone
            row = self._live_refresh(value, user_id, now, check_owner=SLIP != "validate-ignores-user")
            return 200, self.refresh_body(row, value)

    def regen_refresh_token(self, data):
        value, user_id = text_field(data, "refresh_token"), user_id_field(data)
        now = datetime.now(timezone.utc)
        with self.lock, self.db:
            old = self._find_refresh(value, user_id)
            # api-behaviour.md: regeneration "works on active and expired tokens, 401 on revoked".
            if old["revoked"]:
                raise ApiError(401, DEAD_RT)
            if SLIP != "regen-keeps-old":  # SLIP regen-keeps-old: the old token is never revoked
                self._revoke_refresh(old)
            return 200, self._insert_refresh(old["user_id"], old["name"], now)

    def create_access_token(self, data):
        value, user_id = text_field(data, "refresh_token"), user_id_field(data)
        now = datetime.now(timezone.utc)
        with self.lock, self.db:
            rt = self._find_refresh(value, user_id)
            dead = rt["revoked"] or is_expired(rt, now)
            if SLIP == "mint-from-revoked":
                dead = is_expired(rt, now)  # SLIP mint-from-revoked: only the expiry is checked
            if dead:
                raise ApiError(401, DEAD_RT)
            token = secrets.token_urlsafe(32)
            cur = self.db.execute(
                "INSERT INTO access_tokens (user_id, refresh_token_id, digest, created_at, expires_at)"
                " VALUES (?, ?, ?, ?, ?)",
                (rt["user_id"], rt["id"], digest(token), timestamp(now), timestamp(now + ACCESS_LIFESPAN)))
            self.db.execute("UPDATE refresh_tokens SET last_used_at = ? WHERE id = ?",
                            (timestamp(now), rt["id"]))
            row = self.db.execute("SELECT * FROM access_tokens WHERE id = ?", (cur.lastrowid,)).fetchone()
            return 201, self.access_body(row, token)

    def validate_access_token(self, data):
        value, user_id = text_field(data, "api_access_token"), user_id_field(data)
        now = datetime.now(timezone.utc)
        sql, args = "SELECT * FROM access_tokens WHERE digest = ?", [digest(value)]
        if SLIP != "validate-ignores-user":  # SLIP validate-ignores-user: owner not part of the query
            sql += " AND user_id = ?"
            args.append(user_id)
        with self.lock:
            row = self.db.execute(sql, args).fetchone()
        if row is None:
            raise ApiError(401, INVALID_AT)
        # SLIP dead-access-active: the row is found, its state never looked at
        if SLIP != "dead-access-active" and (row["revoked"] or is_expired(row, now)):
            raise ApiError(401, DEAD_AT)
        return 200, self.access_body(row, value)

    def revoke_access_tokens(self, data):
        value, user_id = text_field(data, "refresh_token"), user_id_field(data)
        now = datetime.now(timezone.utc)
        with self.lock, self.db:
            rt = self._live_refresh(value, user_id, now)
            if SLIP == "revoke-all-user-tokens":  # SLIP revoke-all-user-tokens: scoped by user
                cur = self.db.execute("UPDATE access_tokens SET revoked = 1"
                                      " WHERE user_id = ? AND revoked = 0", (rt["user_id"],))
            else:
                cur = self.db.execute("UPDATE access_tokens SET revoked = 1"
                                      " WHERE refresh_token_id = ? AND revoked = 0", (rt["id"],))
            return 200, {"detail": f"Revoked {cur.rowcount} API access token(s)."}


# --- HTTP ----------------------------------------------------------------------------------

class Handler(BaseHTTPRequestHandler):
    store = None  # set in main()
    routes = {
        "/integration/v1/createRefreshToken/": TokenStore.create_refresh_token,
        "/integration/v1/validateRefreshToken/": TokenStore.validate_refresh_token,
        "/integration/v1/regenRefreshToken/": TokenStore.regen_refresh_token,
        "/integration/v1/createAPIAccessToken/": TokenStore.create_access_token,
        "/integration/v1/validateAPIAccessToken/": TokenStore.validate_access_token,
        "/integration/v1/revokeAPIAccessTokens/": TokenStore.revoke_access_tokens,
    }

    def do_POST(self):
        try:
            length = int(self.headers.get("Content-Length") or 0)
            if not 0 <= length <= MAX_BODY:
                raise ValueError
        except ValueError:
            return self.send_json(400, {"detail": "Bad Content-Length.", "code": "400000"})
        body = self.rfile.read(length)  # read before answering, even a 404
        operation = self.routes.get(urlsplit(self.path).path)
        if operation is None:
            return self.send_error(HTTPStatus.NOT_FOUND)
        try:
            status, payload = operation(self.store, self.parse_body(body))
        except ApiError as e:
            # api-behaviour.md, Error: compact JSON {"detail": ..., "code": "<string>"}
            status, payload = e.status, {"detail": e.detail, "code": f"{e.status}000"}
        except Exception:
            log.exception("unhandled error in %s", self.path)
            status, payload = 500, {"detail": "Internal server error.", "code": "500000"}
        self.send_json(status, payload)

    def parse_body(self, body):
        """A dict of the request's fields, from JSON, a urlencoded form or multipart/form-data."""
        # api-behaviour.md: "the server MUST accept all three on every endpoint".
        ctype = self.headers.get_content_type()  # lower-cased, parameters dropped
        try:
            if ctype == "application/json":
                data = json.loads(body)
                if not isinstance(data, dict):
                    raise ApiError(400, "Expected a JSON object.")
                return data
            if ctype == "application/x-www-form-urlencoded":
                return dict(parse_qsl(body.decode(), keep_blank_values=True, errors="strict"))
            if ctype == "multipart/form-data":
                return self.parse_multipart(body)
        except (ValueError, RecursionError, LookupError):
            raise ApiError(400, f"Malformed {ctype} body.") from None
        raise ApiError(415, f"Unsupported media type \"{ctype}\" in request.")

    def parse_multipart(self, body):
        head = f"Content-Type: {self.headers['Content-Type']}\r\n\r\n".encode()
        msg = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + body)
        if not msg.is_multipart() or msg.defects:
            raise ValueError("broken multipart body")
        fields = {}
        for part in msg.iter_parts():
            name = part.get_param("name", header="content-disposition")
            payload = part.get_payload(decode=True)
            if part.defects:
                raise ValueError("broken multipart part")
            if name and payload is not None:
                fields[name] = payload.decode(part.get_content_charset("utf-8"))
        return fields

    def send_json(self, status, payload):
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


def main():
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    if SLIP and SLIP not in SLIPS:
        sys.exit(f"unknown INTEROP_SLIP {SLIP!r}; known: {', '.join(sorted(SLIPS))}")
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 8000
    Handler.store = TokenStore()
    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    log.info("listening on http://127.0.0.1:%d/ (slip: %s)", port, SLIP or "none")
    try:
        server.serve_forever()
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
