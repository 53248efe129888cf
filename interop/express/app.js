'use strict';

const express = require('express');
const multer = require('multer');
const createError = require('http-errors');
const { SLIP } = require('./config');
const { statusOf } = require('./store');

const INVALID_REFRESH = 'Refresh token provided is invalid.';
const DEAD_REFRESH = 'Refresh token provided is expired or revoked.';
const INVALID_ACCESS = 'API Access Token provided is invalid.';
const DEAD_ACCESS = 'API Access Token provided is expired or revoked.';

// The vendor's error body: {"detail": "...", "code": "401000"}.
function fail(res, status, detail) {
  return res.status(status).json({ detail, code: `${status}000` });
}

function parseUserId(value) {
  // SLIP bigint-500: "integer" is checked, not whether it fits, so the store's range error escapes.
  const fits = SLIP === 'bigint-500' ? Number.isInteger : Number.isSafeInteger;
  if (typeof value === 'number') return fits(value) ? value : null;
  if (typeof value === 'string' && /^\d+$/.test(value)) {
    const id = Number(value);
    return fits(id) ? id : null;
  }
  return null;
}

// Reads the named fields from a JSON, urlencoded or multipart body. Every field is a
// non-empty string except user_id, which is an integer or a string of digits.
// Unknown fields are ignored; a repeated form field arrives as an array and is refused.
function readFields(req, names) {
  const body = req.body ?? {};
  const fields = {};
  for (const name of names) {
    const value = body[name];
    if (value === undefined || value === null || value === '') {
      return { error: `${name}: This field is required.` };
    }
    if (name === 'user_id') {
      fields.userId = parseUserId(value);
      if (fields.userId === null) return { error: 'user_id: A valid integer is required.' };
    } else if (typeof value !== 'string') {
      return { error: `${name}: Not a valid string.` };
    } else {
      fields[name] = value;
    }
  }
  return { fields };
}

function refreshTokenBody(row, value) {
  return {
    user_id: row.userId,
    created_at: row.createdAt,
    token_expires_at: row.expiresAt,
    token_status: statusOf(row),
    last_used_at: row.lastUsedAt,
    name: row.name,
    refresh_token: value,
  };
}

function accessTokenBody(row, value, status) {
  return {
    user_id: row.userId,
    created_at: row.createdAt,
    token_expires_at: row.expiresAt,
    token_status: status,
    api_access_token: value,
  };
}

const multipart = multer().none();

// multer hands a broken multipart body (or a file part) to the error handler without a
// status, which Express renders as 500; api-behaviour.md: "a broken multipart body) is
// *refused*: a 4xx, never a 2xx, never a 5xx". Mark it 400 like body-parser's own errors.
function multipartFields(req, res, next) {
  multipart(req, res, (err) => {
    if (err && !err.status) err.status = 400;
    next(err);
  });
}

function createApp(store) {
  const app = express();
  const api = express.Router();

  // api-behaviour.md: "the server MUST accept all three on every endpoint."
  api.use(express.json(), express.urlencoded(), multipartFields);

  api.post('/createRefreshToken/', async (req, res) => {
    const { fields, error } = readFields(req, ['username', 'password', 'name']);
    if (error) return fail(res, 400, error);
    const { username } = fields;
    let { name } = fields;
    // SLIP names-nfc: names normalised "so that equal-looking names compare equal".
    if (SLIP === 'names-nfc') name = name.normalize('NFC');
    if (SLIP === 'names-unquoted') {
      // SLIP names-unquoted: decoded once more, "in case a client URL-encoded it".
      try {
        name = decodeURIComponent(name);
      } catch {
        // Not URL-encoded after all: kept as it came.
      }
    }
    // SLIP trims-password: the password is trimmed like the other inputs.
    const password = SLIP === 'trims-password' ? fields.password.trim() : fields.password;
    if ([...name].length > 255) return fail(res, 400, 'name: Ensure this field has no more than 255 characters.');

    const user = store.findUser(username);
    // SLIP user-enumeration: an unknown user is told apart from a wrong password.
    if (SLIP === 'user-enumeration' && !user) return fail(res, 404, 'User not found.');
    // Vendor page: SSO users "need to use the UI to create a RefreshToken".
    if (user && user.passwordHash === null) {
      return fail(res, 403, 'Users who sign in through SSO must create RefreshTokens in the UI at /account/auth.');
    }
    if (!(await store.checkPassword(user, password))) {
      // SLIP wrong-password-403: bad credentials answered as Forbidden.
      return fail(res, SLIP === 'wrong-password-403' ? 403 : 401, 'Invalid username or password.');
    }
    const { row, value } = store.issueRefreshToken(user.id, name);
    res.status(201).json(refreshTokenBody(row, value));
  });

  api.post('/validateRefreshToken/', (req, res) => {
    const { fields, error } = readFields(req, ['refresh_token', 'user_id']);
    if (error) return fail(res, 400, error);
    // SLIP validate-ignores-user: the token is found by its value alone.
    const row = SLIP === 'validate-ignores-user'
      ? store.refreshTokenByValue(fields.refresh_token)
      : store.refreshTokenOf(fields.refresh_token, fields.userId);
    if (!row) return fail(res, 401, INVALID_REFRESH);
    if (statusOf(row) !== 'ACTIVE') return fail(res, 401, DEAD_REFRESH);
    res.json(refreshTokenBody(row, fields.refresh_token));
  });

  // Works on active and expired tokens (api-behaviour.md), not on revoked ones.
  api.post('/regenRefreshToken/', (req, res) => {
    const { fields, error } = readFields(req, ['refresh_token', 'user_id']);
    if (error) return fail(res, 400, error);
    const old = store.refreshTokenOf(fields.refresh_token, fields.userId);
    if (!old) return fail(res, 401, INVALID_REFRESH);
    if (statusOf(old) === 'REVOKED') return fail(res, 401, DEAD_REFRESH);
    const { row, value } = store.regenerate(old);
    res.json(refreshTokenBody(row, value));
  });

  api.post('/createAPIAccessToken/', (req, res) => {
    const { fields, error } = readFields(req, ['refresh_token', 'user_id']);
    if (error) return fail(res, 400, error);
    const refresh = store.refreshTokenOf(fields.refresh_token, fields.userId);
    if (!refresh) return fail(res, 401, INVALID_REFRESH);
    // SLIP mint-from-revoked: only the expiry is checked, not the revocation.
    const usable = SLIP === 'mint-from-revoked'
      ? new Date() < refresh.expiresAt
      : statusOf(refresh) === 'ACTIVE';
    if (!usable) return fail(res, 401, DEAD_REFRESH);
    const { row, value } = store.mintAccessToken(refresh);
    res.status(201).json(accessTokenBody(row, value, statusOf(row)));
  });

  api.post('/validateAPIAccessToken/', (req, res) => {
    const { fields, error } = readFields(req, ['api_access_token', 'user_id']);
    if (error) return fail(res, 400, error);
    // SLIP validate-ignores-user: the token is found by its value alone.
    const row = SLIP === 'validate-ignores-user'
      ? store.accessTokenByValue(fields.api_access_token)
      : store.accessTokenOf(fields.api_access_token, fields.userId);
    if (!row) return fail(res, 401, INVALID_ACCESS);
    // SLIP dead-access-active: the row's state is never looked at.
    const status = SLIP === 'dead-access-active' ? 'ACTIVE' : statusOf(row);
    if (status !== 'ACTIVE') return fail(res, 401, DEAD_ACCESS);
    res.json(accessTokenBody(row, fields.api_access_token, status));
  });

  api.post('/revokeAPIAccessTokens/', (req, res) => {
    const { fields, error } = readFields(req, ['refresh_token', 'user_id']);
    if (error) return fail(res, 400, error);
    const refresh = store.refreshTokenOf(fields.refresh_token, fields.userId);
    if (!refresh) return fail(res, 401, INVALID_REFRESH);
    if (statusOf(refresh) !== 'ACTIVE') return fail(res, 401, DEAD_REFRESH);
    const count = store.revokeAccessTokens(refresh);
    res.json({ detail: `Revoked ${count} API access token(s).` });
  });

  app.use('/integration/v1', api);

  // Express's default handler logs the whole error object, and body-parser's parse errors
  // carry the raw request body (and a snippet of it in the message): passwords and token
  // values. The brief: logs "never passwords or token values". Pass it a bare error of the
  // same status; the response is the default handler's as before.
  app.use((err, req, res, next) => {
    const status = err.status ?? err.statusCode;
    next(status >= 400 && status < 500 ? createError(status) : err);
  });
  return app;
}

module.exports = { createApp };
