//! Findings the engine raises itself rather than a response check: a case's own expectations,
//! captures, transport and control-protocol failures, and snapshot drift.

use super::CheckInfo;

/// The case's expected status.
pub(crate) const EXPECT_STATUS: CheckInfo =
    CheckInfo::must("expect.status", "The status is one the case expects.").because(&["case"]);
/// The case's body matchers.
pub const EXPECT_BODY: CheckInfo =
    CheckInfo::must("expect.body", "The body fields match the case's matchers.").because(&["case"]);
/// An answer the contract allows but does not prefer.
pub(crate) const EXPECT_PREFERRED: CheckInfo = CheckInfo::should(
    "expect.preferred",
    "Where the contract allows several answers, the one it prefers: a refusal's status, an error's wording, one value of a field given twice.",
);
/// A refused request changed nothing.
pub(crate) const REFUSAL_UNCHANGED: CheckInfo = CheckInfo::must(
    "refusal.unchanged",
    "A request refused as malformed or not matching changes nothing: the tokens the case holds keep their status, times and last use. A client that got a 4xx holds on to what it had.",
)
.because(&["client:allie-sdk"])
.in_every_case();
/// The case's header matchers.
pub(crate) const EXPECT_HEADER: CheckInfo =
    CheckInfo::must("expect.header", "The headers match the case's matchers.").because(&["case"]);
/// A capture found its value.
pub(crate) const CAPTURE: CheckInfo = CheckInfo::must(
    "capture",
    "A value the case captures for later steps is in the response.",
)
.because(&["case"]);
/// The target answered at all.
pub(crate) const TRANSPORT: CheckInfo = CheckInfo::must(
    "transport",
    "The target answers within the timeout with a complete response under the size cap.",
)
.because(&["client:allie-sdk"]);
/// The control protocol did what was asked.
pub(crate) const CONTROL: CheckInfo = CheckInfo::must(
    "control",
    "The control protocol accepts the request of a clock, lifespan or user step.",
)
.because(&["control-protocol"]);
/// A request was rate-limited and waited out.
pub(crate) const RATE_LIMITED: CheckInfo = CheckInfo::should(
    "rate_limited",
    "A request other than a login being tested is not refused with 429; the run waits a bounded Retry-After out and sends it again.",
);
/// The run could prepare what the case needs.
pub(crate) const SETUP: CheckInfo = CheckInfo::must(
    "setup",
    "The run can prepare what a case needs: a refresh token of the profile's user to lend it.",
)
.because(&["vendor-page"]);
/// A case's responses differ from its accepted snapshot.
pub(crate) const SNAPSHOT_DRIFT: CheckInfo = CheckInfo::must(
    "snapshot.drift",
    "The redacted responses of a case equal its accepted snapshot.",
)
.because(&["accepted-snapshot"]);

/// Every engine-raised check, in the order CHECKS.md lists them (after the response checks).
pub(crate) const ENGINE_CHECKS: &[CheckInfo] = &[
    EXPECT_STATUS,
    EXPECT_BODY,
    EXPECT_HEADER,
    EXPECT_PREFERRED,
    REFUSAL_UNCHANGED,
    CAPTURE,
    TRANSPORT,
    CONTROL,
    SETUP,
    RATE_LIMITED,
    SNAPSHOT_DRIFT,
];
