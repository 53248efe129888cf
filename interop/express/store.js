'use strict';

// In-memory store: users, refresh tokens and access tokens. Empty at every start.
// Every method is synchronous, so each one runs to completion on Node's single thread
// before another request's code can touch the store: that is the transaction boundary.

const crypto = require('node:crypto');
const { promisify } = require('node:util');
const { SLIP, REFRESH_TOKEN_LIFESPAN_MS, ACCESS_TOKEN_LIFESPAN_MS } = require('./config');

const scrypt = promisify(crypto.scrypt);
const KEY_LENGTH = 64;

async function hashPassword(password) {
  const salt = crypto.randomBytes(16);
  const key = await scrypt(password, salt, KEY_LENGTH);
  return `scrypt$${salt.toString('base64url')}$${key.toString('base64url')}`;
}

async function verifyPassword(password, stored) {
  const [, salt, key] = stored.split('$');
  const actual = await scrypt(password, Buffer.from(salt, 'base64url'), KEY_LENGTH);
  return crypto.timingSafeEqual(actual, Buffer.from(key, 'base64url'));
}

// Token values: CSPRNG bytes, URL-safe base64 without padding. Only their digests are kept.
const newTokenValue = (bytes) => crypto.randomBytes(bytes).toString('base64url');
const digest = (value) => crypto.createHash('sha256').update(value, 'utf8').digest('hex');

function statusOf(token, now = new Date()) {
  if (token.revokedAt) return 'REVOKED';
  if (now >= token.expiresAt) return 'EXPIRED';
  return 'ACTIVE';
}

// user_id is an integer key; like a database driver with an integer column, the store
// refuses a number it cannot hold exactly. Callers validate user input before this.
function checkUserId(userId) {
  if (!Number.isSafeInteger(userId)) throw new RangeError(`user_id out of range: ${userId}`);
}

class Store {
  constructor() {
    this.users = new Map(); // id -> user
    this.usersByName = new Map(); // username -> user
    this.refreshTokens = new Map(); // digest -> refresh token row
    this.accessTokens = new Map(); // digest -> access token row
    this.nextUserId = 1;
    this.nextRefreshId = 1;
    this.dummyHash = null;
  }

  async addUser(username, password) {
    // password null: the user signs in through SSO and has no usable password here.
    const user = {
      id: this.nextUserId++,
      username,
      passwordHash: password === null ? null : await hashPassword(password),
    };
    this.users.set(user.id, user);
    this.usersByName.set(username, user);
    return user;
  }

  findUser(username) {
    return this.usersByName.get(username) ?? null;
  }

  // Unknown users cost one hash as well, so response times do not reveal who exists.
  async checkPassword(user, password) {
    this.dummyHash ??= await hashPassword(newTokenValue(16));
    const ok = await verifyPassword(password, user?.passwordHash ?? this.dummyHash);
    return ok && Boolean(user?.passwordHash);
  }

  issueRefreshToken(userId, name, now = new Date()) {
    const value = newTokenValue(64);
    const row = {
      id: this.nextRefreshId++,
      userId,
      name,
      digest: digest(value),
      createdAt: now,
      expiresAt: new Date(now.getTime() + REFRESH_TOKEN_LIFESPAN_MS),
      lastUsedAt: null,
      revokedAt: null,
    };
    this.refreshTokens.set(row.digest, row);
    return { row, value };
  }

  refreshTokenByValue(value) {
    return this.refreshTokens.get(digest(value)) ?? null;
  }

  refreshTokenOf(value, userId) {
    checkUserId(userId);
    const row = this.refreshTokenByValue(value);
    return row && row.userId === userId ? row : null;
  }

  accessTokenByValue(value) {
    return this.accessTokens.get(digest(value)) ?? null;
  }

  accessTokenOf(value, userId) {
    checkUserId(userId);
    const row = this.accessTokenByValue(value);
    return row && row.userId === userId ? row : null;
  }

  // The old value is revoked with its access tokens; the new one keeps the name.
  regenerate(old, now = new Date()) {
    // SLIP regen-keeps-old: the revocation of the old value is skipped.
    if (SLIP !== 'regen-keeps-old') {
      old.revokedAt = now;
      this.revokeAccessTokens(old, now);
    }
    return this.issueRefreshToken(old.userId, old.name, now);
  }

  mintAccessToken(refresh, now = new Date()) {
    const value = newTokenValue(32);
    const row = {
      userId: refresh.userId,
      refreshId: refresh.id,
      digest: digest(value),
      createdAt: now,
      expiresAt: new Date(now.getTime() + ACCESS_TOKEN_LIFESPAN_MS),
      revokedAt: null,
    };
    this.accessTokens.set(row.digest, row);
    refresh.lastUsedAt = now;
    return { row, value };
  }

  // Revokes the active access tokens minted from this refresh token; returns how many.
  revokeAccessTokens(refresh, now = new Date()) {
    let count = 0;
    for (const token of this.accessTokens.values()) {
      // SLIP revoke-all-user-tokens: matches on the user, not on the refresh token.
      const minted = SLIP === 'revoke-all-user-tokens'
        ? token.userId === refresh.userId
        : token.refreshId === refresh.id;
      if (minted && statusOf(token, now) === 'ACTIVE') {
        token.revokedAt = now;
        count += 1;
      }
    }
    return count;
  }
}

module.exports = { Store, statusOf };
