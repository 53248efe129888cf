'use strict';

// Deliberate bugs for the interoperability zoo, one at a time, by INTEROP_SLIP=<name>.
const SLIPS = new Set([
  'wrong-password-403',
  'validate-ignores-user',
  'revoke-all-user-tokens',
  'regen-keeps-old',
  'mint-from-revoked',
  'access-lifespan-days',
  'bigint-500',
  'user-enumeration',
  'dead-access-active',
  'trims-password',
  'names-nfc',
  'names-unquoted',
]);
const SLIP = process.env.INTEROP_SLIP || '';

const HOUR = 60 * 60 * 1000;
const DAY = 24 * HOUR;

// Vendor page: "The default expiration times for RefreshToken and APIAccessToken are
// 60 days and 24 hours respectively."
const REFRESH_TOKEN_LIFESPAN_DAYS = 60;
const ACCESS_TOKEN_LIFESPAN_HOURS = 24;

module.exports = {
  SLIPS,
  SLIP,
  REFRESH_TOKEN_LIFESPAN_MS: REFRESH_TOKEN_LIFESPAN_DAYS * DAY,
  // SLIP access-lifespan-days: the hours are multiplied by the wrong unit.
  ACCESS_TOKEN_LIFESPAN_MS: ACCESS_TOKEN_LIFESPAN_HOURS * (SLIP === 'access-lifespan-days' ? DAY : HOUR),
};
