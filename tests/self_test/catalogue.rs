//! The catalogue: each implementation the self-test runs the suite against, with the verdict
//! it must get and the case that must give it.

use crate::mutant::{Fault, Mode, Variant};

/// What an entry must show.
#[derive(Clone, Copy, Debug)]
pub enum Expect {
    /// A MUST fault: each (case pattern, check) fails in a matching case; the run exits 1.
    Fails(&'static [(&'static str, &'static str)]),
    /// A SHOULD departure: each (case pattern, check) warns; nothing fails; exit 0.
    Warns(&'static [(&'static str, &'static str)]),
    /// A conformant variant: exit 0, nothing skipped but what the mode lacks, warnings only
    /// these (case pattern, check) pairs.
    Passes(&'static [(&'static str, &'static str)]),
}

/// One implementation of the catalogue.
pub struct Entry {
    /// Its name, the trial's name.
    pub name: &'static str,
    /// What the mutant departs from.
    pub mode: Mode,
    /// The verdict it must get.
    pub expect: Expect,
    /// Run without the control protocol, as most real deployments are.
    pub plain: bool,
    /// Checks that must find nothing in the entry's run: where the fault is the target's, the
    /// harness must not blame a case's own request for what its book-keeping did.
    pub never: &'static [&'static str],
}

const fn fault(name: &'static str, f: Fault, expect: Expect) -> Entry {
    Entry {
        name,
        mode: Mode::Fault(f),
        expect,
        plain: false,
        never: &[],
    }
}

const fn plain(e: Entry) -> Entry {
    Entry { plain: true, ..e }
}

const fn variant(
    name: &'static str,
    v: Variant,
    allowed: &'static [(&'static str, &'static str)],
) -> Entry {
    Entry {
        name,
        mode: Mode::Variant(v),
        expect: Expect::Passes(allowed),
        plain: false,
        never: &[],
    }
}

use Expect::{Fails, Warns};

/// The warnings a server built like Django REST framework gives: refusals other than preferred
/// and the last of a repeated field taken (anywhere), trimmed names, errors without `code`,
/// media types compared as written.
const LENIENT_WARNINGS: &[(&str, &str)] = &[
    ("*", "expect.preferred"),
    ("*", "error.code"),
    ("generated.media.*.*-letter-case", "expect.status"),
];

/// The catalogue.
pub const CATALOGUE: &[Entry] = &[
    // Users and tokens.
    fault(
        "ignores user_id",
        Fault::IgnoresUserId,
        Fails(&[
            ("refresh-token.validate.other-user", "client_error.kept"),
            ("generated.identity.*.json-number", "client_error.kept"),
        ]),
    ),
    plain(fault(
        "ignores user_id (plain)",
        Fault::IgnoresUserId,
        Fails(&[
            ("refresh-token.validate.other-user", "client_error.kept"),
            ("generated.identity.*.form", "client_error.kept"),
        ]),
    )),
    fault(
        "unknown user answered differently (enumeration)",
        Fault::UnknownUserDiffers,
        Fails(&[("refresh-token.create.bad-credentials", "expect.status")]),
    ),
    fault(
        "empty password logs in",
        Fault::EmptyPasswordLogsIn,
        Fails(&[("refresh-token.create.empty-password", "client_error.kept")]),
    ),
    fault(
        "TOKEN header stands in for the password",
        Fault::TokenHeaderAuthenticates,
        Fails(&[("refresh-token.create.token-header", "client_error.kept")]),
    ),
    fault(
        "SSO users let in",
        Fault::SsoLetIn,
        Fails(&[("refresh-token.create.sso-user", "client_error.kept")]),
    ),
    plain(fault(
        "SSO users let in (plain, profile's SSO user)",
        Fault::SsoLetIn,
        Fails(&[("refresh-token.create.sso-user", "client_error.kept")]),
    )),
    // Revocation.
    fault(
        "revocation revokes all of the user's access tokens",
        Fault::RevokesAllOfTheUser,
        Fails(&[("access-token.revoke.scope", "expect.status")]),
    ),
    plain(fault(
        "revocation scope (plain)",
        Fault::RevokesAllOfTheUser,
        Fails(&[("access-token.revoke.scope", "expect.status")]),
    )),
    fault(
        "revocation revokes nothing",
        Fault::RevokeDoesNothing,
        Fails(&[("access-token.revoke", "token_status.agrees")]),
    ),
    fault(
        "revocation accepts a dead refresh token",
        Fault::RevokeAcceptsDead,
        Fails(&[("dead-token.regenerated", "client_error.kept")]),
    ),
    fault(
        "revocation answers 204 with no body",
        Fault::RevokeAnswers204,
        Fails(&[("access-token.revoke", "status.documented")]),
    ),
    // Regeneration.
    fault(
        "regeneration leaves the old value valid",
        Fault::RegenKeepsOld,
        Fails(&[("refresh-token.regen", "token_status.agrees")]),
    ),
    Entry {
        // The pool cannot clean a lent token between cases; the next borrower must get the
        // token as the target has it now, and its refusals must not be blamed for the mints
        // of the case before (issue: a stale record lent on).
        never: &["refusal.unchanged"],
        ..fault(
            "regeneration answers 500",
            Fault::RegenFails500,
            Fails(&[("refresh-token.regen", "server_error.none")]),
        )
    },
    fault(
        "regeneration hands back the same value",
        Fault::RegenSameValue,
        Fails(&[("refresh-token.regen", "token.unique")]),
    ),
    fault(
        "regeneration keeps stale timestamps",
        Fault::RegenStaleTimestamps,
        Fails(&[("refresh-token.regen.timestamps", "expect.body")]),
    ),
    fault(
        "regeneration refuses an expired token",
        Fault::RegenRefusesExpired,
        // The contract's decision, no client's dependency: a SHOULD.
        Warns(&[("expiry.regen.expired", "expect.status")]),
    ),
    fault(
        "regeneration accepts a revoked token",
        Fault::RegenAcceptsRevoked,
        Fails(&[("dead-token.regenerated", "client_error.kept")]),
    ),
    // Dead tokens.
    fault(
        "mints from a dead refresh token",
        Fault::MintsFromDead,
        Fails(&[("dead-token.regenerated", "client_error.kept")]),
    ),
    fault(
        "a dead refresh token validates ACTIVE",
        Fault::ValidatesDeadAsActive,
        Fails(&[("dead-token.regenerated", "token_status.agrees")]),
    ),
    // Time.
    fault(
        "expiry enforced an hour early",
        Fault::ExpiresEarly,
        Fails(&[("expiry.access.boundary", "expect.status")]),
    ),
    fault(
        "expiry enforced an hour late",
        Fault::ExpiresLate,
        Fails(&[("expiry.access.boundary", "expect.body")]),
    ),
    fault(
        "the clock moves but expiry ignores it",
        Fault::ClockNotUsedForExpiry,
        Fails(&[("dead-token.expired", "token_status.agrees")]),
    ),
    fault(
        "the clock does not move",
        Fault::ClockDoesNotMove,
        Fails(&[("expiry.access.default", "control")]),
    ),
    fault(
        "lifespan changes ignored",
        Fault::LifespansIgnored,
        Fails(&[("expiry.lifespan.access", "expiry.lifespan")]),
    ),
    fault(
        "lifespans answered other than set",
        Fault::LifespansMisreported,
        Fails(&[("expiry.lifespan.access", "control")]),
    ),
    fault(
        "lifespan changes applied to old tokens",
        Fault::LifespansApplyToOld,
        Fails(&[("expiry.lifespan.access", "expect.body")]),
    ),
    fault(
        "access tokens live 23 hours, not 24",
        Fault::WrongAccessLifespan,
        Fails(&[("access-token.create", "expiry.lifespan")]),
    ),
    // Bad input.
    fault(
        "a user_id that is not a number crashes",
        Fault::BadUserIdCrashes,
        Fails(&[("bad-input.validate-refresh-token", "client_error.kept")]),
    ),
    fault(
        "malformed JSON crashes",
        Fault::MalformedJsonCrashes,
        Fails(&[("bad-input.create-refresh-token", "client_error.kept")]),
    ),
    fault(
        "unknown fields refused",
        Fault::UnknownFieldsRefused,
        // No client sends an unknown field: refusing one is a SHOULD departure.
        Warns(&[("encodings.unknown-fields", "expect.status")]),
    ),
    // Encodings.
    fault(
        "form bodies refused",
        Fault::FormRefused,
        Fails(&[("encodings.form", "expect.status")]),
    ),
    fault(
        "multipart bodies refused",
        Fault::MultipartRefused,
        Fails(&[("encodings.multipart", "expect.status")]),
    ),
    fault(
        "multipart read only as common clients write it",
        Fault::MultipartStrict,
        Warns(&[("generated.media.*.multipart-dialect", "expect.status")]),
    ),
    fault(
        "validations answered from a cache revocation does not empty",
        Fault::StaleValidationCache,
        Fails(&[("access-token.revoke", "token_status.agrees")]),
    ),
    fault(
        "a cached access token validates for any user",
        Fault::CacheIgnoresOwner,
        Fails(&[("access-token.validate.other-user", "client_error.kept")]),
    ),
    fault(
        "user_id as a JSON string refused",
        Fault::UserIdStringRefused,
        Fails(&[("encodings.user-id.json-string", "expect.status")]),
    ),
    // Names.
    fault(
        "names cut to 100 characters",
        Fault::NamesTruncated,
        Fails(&[("refresh-token.create", "expect.body")]),
    ),
    fault(
        "names past 255 characters taken",
        Fault::NamesUnbounded,
        Warns(&[(
            "generated.lengths.createRefreshToken.name-too-long",
            "expect.preferred",
        )]),
    ),
    fault(
        "a token longer than its column crashes",
        Fault::LongTokenCrashes,
        Fails(&[("generated.lengths.*", "client_error.kept")]),
    ),
    fault(
        "non-ASCII names mangled",
        Fault::NamesAsciiOnly,
        Fails(&[("refresh-token.create", "expect.body")]),
    ),
    fault(
        "duplicate names refused",
        Fault::DuplicateNameRefused,
        Fails(&[("refresh-token.create.duplicate-name", "expect.status")]),
    ),
    // Codes, fields, types, formats.
    fault(
        "validation answers 201",
        Fault::ValidateAnswers201,
        Fails(&[("refresh-token.validate", "status.documented")]),
    ),
    fault(
        "RefreshToken without name",
        Fault::BodyLacksName,
        Fails(&[("refresh-token.create", "schema.body")]),
    ),
    fault(
        "user_id answered as a string",
        Fault::UserIdAsString,
        Fails(&[("refresh-token.create", "schema.body")]),
    ),
    fault(
        "timestamps without an offset",
        Fault::TimestampWithoutOffset,
        Fails(&[("refresh-token.create", "timestamp.rfc3339")]),
    ),
    fault(
        "token_status VALID",
        Fault::StatusWordUnknown,
        Fails(&[("refresh-token.create", "token_status.known")]),
    ),
    fault(
        "errors in plain text",
        Fault::ErrorsPlainText,
        // Clients read a 401's body with .json(): one that is not JSON breaks them.
        Fails(&[("refresh-token.create.bad-credentials", "body.json")]),
    ),
    fault(
        "errors without detail",
        Fault::ErrorsWithoutDetail,
        // How a refusal is spelled is the framework's business: a SHOULD.
        Warns(&[("refresh-token.create.bad-credentials", "error.shape")]),
    ),
    fault(
        "answers in text/html",
        Fault::HtmlContentType,
        Fails(&[("refresh-token.create", "content_type.json")]),
    ),
    fault(
        "a validation body that is not JSON",
        Fault::ValidateBodyNotJson,
        Fails(&[("access-token.validate", "body.json")]),
    ),
    // Reused values, transport.
    fault(
        "one access token for everyone",
        Fault::ReusedAccessToken,
        Fails(&[("access-token.siblings", "token.unique")]),
    ),
    fault(
        "regeneration never answers a form body",
        Fault::RegenHangsOnForm,
        Fails(&[("encodings.form", "transport")]),
    ),
    // Near misses of a credential (generated.credentials).
    fault(
        "token values compared without regard to case",
        Fault::TokenCaseInsensitive,
        Fails(&[
            (
                "generated.credentials.validateRefreshToken.swap-case",
                "client_error.kept",
            ),
            (
                "generated.credentials.validateAPIAccessToken.swap-case",
                "client_error.kept",
            ),
        ]),
    ),
    fault(
        "token values compared on their first 40 characters",
        Fault::TokenPrefixMatch,
        Fails(&[
            (
                "generated.credentials.regenRefreshToken.extended",
                "client_error.kept",
            ),
            (
                "generated.credentials.createAPIAccessToken.change-last",
                "client_error.kept",
            ),
        ]),
    ),
    fault(
        "an access token taken for a refresh token",
        Fault::AccessTokenAsRefresh,
        Fails(&[(
            "generated.credentials.createAPIAccessToken.other-kind",
            "client_error.kept",
        )]),
    ),
    fault(
        "passwords compared without regard to case",
        Fault::PasswordCaseInsensitive,
        Fails(&[(
            "generated.credentials.createRefreshToken.password-swap-case",
            "client_error.kept",
        )]),
    ),
    fault(
        "a password that starts with the user's is taken",
        Fault::PasswordPrefix,
        Fails(&[(
            "generated.credentials.createRefreshToken.password-extended",
            "client_error.kept",
        )]),
    ),
    // Identity in every form (generated.identity).
    fault(
        "the owner checked only for a JSON number",
        Fault::OwnerUncheckedForStrings,
        Fails(&[
            ("generated.identity.*.json-string", "client_error.kept"),
            ("generated.identity.*.form", "client_error.kept"),
        ]),
    ),
    plain(fault(
        "the owner unchecked in multipart bodies (plain)",
        Fault::OwnerUncheckedInMultipart,
        Fails(&[("generated.identity.*.multipart", "client_error.kept")]),
    )),
    // Text fidelity (generated.text).
    fault(
        "form names percent-decoded twice",
        Fault::NamesDecodedTwice,
        Fails(&[("generated.text.createRefreshToken.form", "expect.body")]),
    ),
    fault(
        "inner runs of spaces in names collapsed",
        Fault::NamesInnerSpacesCollapsed,
        Fails(&[("generated.text.createRefreshToken.json", "expect.body")]),
    ),
    fault(
        "`&` in names stored HTML-escaped",
        Fault::NamesHtmlEscaped,
        Fails(&[("generated.text.createRefreshToken.multipart", "expect.body")]),
    ),
    fault(
        "names stored in Unicode's composed form (NFC)",
        Fault::NamesNormalised,
        Fails(&[("generated.text.createRefreshToken.json", "expect.body")]),
    ),
    fault(
        "names URI-normalised (%41 decoded, %2b upper-cased)",
        Fault::NamesUriNormalised,
        Fails(&[("generated.text.createRefreshToken.json", "expect.body")]),
    ),
    fault(
        "astral characters dropped from names (MySQL's utf8)",
        Fault::NamesAstralDropped,
        Fails(&[("generated.text.createRefreshToken.json", "expect.body")]),
    ),
    fault(
        "regeneration renames the token",
        Fault::RegenRenames,
        Fails(&[("generated.text.createRefreshToken.json", "expect.body")]),
    ),
    fault(
        "a name given twice stored as both",
        Fault::DuplicateNameJoined,
        Fails(&[(
            "generated.text.createRefreshToken.form-duplicate-name",
            "expect.body",
        )]),
    ),
    // Media types (generated.media).
    fault(
        "a charset parameter refused",
        Fault::CharsetRefused,
        Fails(&[("generated.media.*.json-parameters", "expect.status")]),
    ),
    fault(
        "a quoted multipart boundary not unquoted",
        Fault::QuotedBoundaryRefused,
        Fails(&[("generated.media.*.multipart-parameters", "expect.status")]),
    ),
    // Methods and bounds (generated.methods, generated.bounds).
    fault(
        "GET crashes",
        Fault::GetCrashes,
        Fails(&[("generated.methods.*.get", "server_error.none")]),
    ),
    fault(
        "PUT served like POST",
        Fault::PutActsAsPost,
        Warns(&[("generated.methods.*.put", "expect.preferred")]),
    ),
    fault(
        "a user_id past int64 crashes",
        Fault::IdOverflowCrashes,
        Fails(&[
            ("generated.bounds.*.int64-max-plus-one", "client_error.kept"),
            ("generated.bounds.*.thirty-digits", "client_error.kept"),
        ]),
    ),
    fault(
        "a fractional user_id cut to the owner's",
        Fault::FractionTruncated,
        Fails(&[("generated.bounds.*.fraction", "client_error.kept")]),
    ),
    plain(fault(
        "user_id 0 passes every ownership check (plain)",
        Fault::ZeroIsAnyUser,
        Fails(&[("generated.bounds.*.zero", "client_error.kept")]),
    )),
    // What an operation must not touch (generated.untouched).
    fault(
        "minting revokes the earlier access tokens",
        Fault::MintRevokesSiblings,
        Fails(&[(
            "generated.untouched.createAPIAccessToken.others",
            "expect.status",
        )]),
    ),
    fault(
        "regeneration revokes the user's other refresh tokens",
        Fault::RegenRevokesUsersOthers,
        Fails(&[(
            "generated.untouched.regenRefreshToken.others",
            "expect.status",
        )]),
    ),
    plain(fault(
        "revoking access tokens revokes the refresh token (plain)",
        Fault::RevokeAlsoRevokesRefresh,
        Fails(&[(
            "generated.untouched.revokeAPIAccessTokens.others",
            "expect.status",
        )]),
    )),
    fault(
        "validating an access token uses it up",
        Fault::ValidationConsumesAccess,
        Fails(&[(
            "generated.untouched.validateAPIAccessToken.others",
            "expect.status",
        )]),
    ),
    // A refusal that changes something (refusal.unchanged).
    fault(
        "a regeneration refused for another user's id revokes the token",
        Fault::RefusedRegenStillRevokes,
        Fails(&[(
            "generated.identity.regenRefreshToken.*",
            "refusal.unchanged",
        )]),
    ),
    plain(fault(
        "a mint refused for another user's id mints (plain)",
        Fault::RefusedMintStillMints,
        Fails(&[(
            "generated.identity.createAPIAccessToken.*",
            "refusal.unchanged",
        )]),
    )),
    fault(
        "a revocation refused for another user's id revokes",
        Fault::RefusedRevokeStillRevokes,
        Fails(&[(
            "generated.identity.revokeAPIAccessTokens.*",
            "refusal.unchanged",
        )]),
    ),
    // SHOULD departures: warnings, never failures.
    fault(
        "token_status in lower case",
        Fault::LowerCaseStatus,
        Warns(&[("refresh-token.create", "token_status.uppercase")]),
    ),
    fault(
        "timestamps without a fraction",
        Fault::NoFraction,
        Warns(&[("refresh-token.create", "timestamp.fraction")]),
    ),
    fault(
        "errors without code",
        Fault::ErrorsWithoutCode,
        Warns(&[("refresh-token.create.bad-credentials", "error.code")]),
    ),
    fault(
        "no Cache-Control",
        Fault::NoCacheControl,
        Warns(&[("refresh-token.create", "cache_control.no_store")]),
    ),
    fault(
        "counting token values",
        Fault::CounterTokens,
        Warns(&[("refresh-token.create", "token.entropy")]),
    ),
    fault(
        "16-character token values",
        Fault::ShortTokens,
        Warns(&[("refresh-token.create", "token.entropy")]),
    ),
    fault(
        "last_used_at never set",
        Fault::LastUsedNeverSet,
        Warns(&[("refresh-token.last-used", "expect.body")]),
    ),
    fault(
        "regeneration keeps the access tokens",
        Fault::NoCascadeOnRegen,
        Warns(&[("access-token.regen-cascade", "token_status.cascade")]),
    ),
    fault(
        "failed logins never throttled",
        Fault::NeverThrottles,
        Warns(&[("hardening.login-throttling", "expect.status")]),
    ),
    fault(
        "no body limit",
        Fault::NoBodyLimit,
        Warns(&[("hardening.body-too-large", "expect.status")]),
    ),
    fault(
        "a known field given twice: the last wins",
        Fault::DuplicateFieldAccepted,
        Warns(&[("bad-input.validate-refresh-token", "expect.preferred")]),
    ),
    plain(fault(
        "created_at a local time written as UTC",
        Fault::LocalTimeAsUtc,
        Warns(&[("refresh-token.create", "timestamp.skew")]),
    )),
    // Conformant variants: other valid forms of the contract.
    Entry {
        name: "correct",
        mode: Mode::Correct,
        expect: Expect::Passes(&[]),
        plain: false,
        never: &[],
    },
    plain(Entry {
        name: "correct (plain)",
        mode: Mode::Correct,
        expect: Expect::Passes(&[]),
        plain: false,
        never: &[],
    }),
    variant("regeneration answers 201", Variant::Regen201, &[]),
    variant(
        "dead tokens answered 200 with EXPIRED or REVOKED",
        Variant::DeadAnswered200,
        &[("*", "dead_token.refused")],
    ),
    variant(
        "text/json",
        Variant::TextJson,
        &[("*", "content_type.application_json")],
    ),
    variant("extra response fields", Variant::ExtraFields, &[]),
    variant(
        "timestamps with a +02:00 offset",
        Variant::NonUtcOffset,
        &[],
    ),
    variant("keys in reverse order", Variant::KeysReversed, &[]),
    variant(
        "no last_used_at",
        Variant::NoLastUsedAt,
        &[("refresh-token.last-used", "expect.body")],
    ),
    variant(
        "built like Django REST framework",
        Variant::Lenient,
        LENIENT_WARNINGS,
    ),
    plain(variant(
        "built like Django REST framework (plain)",
        Variant::Lenient,
        LENIENT_WARNINGS,
    )),
    variant(
        "configured for 90 days and 12 hours",
        Variant::OtherLifespans,
        &[],
    ),
    variant(
        "refusals spelled as FastAPI and http.server spell them, every answer gzip-coded",
        Variant::OtherStacks,
        &[
            ("*", "status.refusal_documented"),
            ("*", "error.shape"),
            ("*", "error.code"),
            ("*", "expect.preferred"),
        ],
    ),
    variant(
        "every mistyped credential answered 401",
        Variant::Mistyped401,
        &[("bad-input.*", "expect.preferred")],
    ),
];
