//! Why a run, or one step of a case, could not go on. Each variant carries what its message
//! and its hint need, so the hint is chosen by what happened, never by reading a message.

use std::fmt;

use crate::case::template::TemplateError;
use crate::error::{Error, ErrorKind};
use crate::wire::TransportError;

/// A problem that stops the whole run before any verdict.
#[derive(Debug)]
pub enum RunError {
    /// The target did not answer the first request.
    Unreachable {
        /// What was asked.
        url: String,
        /// How it failed.
        cause: TransportError,
    },
    /// The control protocol did not answer its discovery request.
    Control {
        /// Its base URL.
        url: String,
        /// How it failed.
        cause: ControlError,
    },
    /// The HTTP client could not be set up (a CA file that cannot be read, say).
    Setup(Error),
    /// The profile says the target is configured one way, the target's control protocol says
    /// another: every expiry judgement would be off, so the run does not start.
    Config {
        /// What disagrees.
        message: String,
    },
    /// The profile's username and password were refused by the one login made to check them
    /// before any case: no case would get anywhere, and more attempts could lock the account.
    Credentials {
        /// Whose: "the profile's" or "the second account's".
        whose: &'static str,
        /// The operation's answer: its status and what it said.
        answer: String,
    },
    /// The first login found nothing that speaks the API at the target's URL (404, or not a
    /// JSON object): `--target` names something else, most often the API's path.
    NotTheApi {
        /// What the login got.
        answer: String,
    },
}

impl RunError {
    /// What to do about it.
    pub fn hint(&self) -> Option<&'static str> {
        match self {
            Self::Unreachable {
                cause: TransportError::Tls(_),
                ..
            } => Some(
                "the target's certificate is not trusted: give --ca-file with its CA (or --insecure for a throw-away instance)",
            ),
            Self::Unreachable { .. } => Some("is the target running, and is --target right?"),
            Self::Control { .. } => Some(
                "is --control-url right? Without one, the cases that need the control protocol are skipped",
            ),
            Self::Setup(e) => e
                .hint
                .is_none()
                .then_some("check the target's TLS settings"),
            Self::Config { .. } => Some(
                "give the lifespans the target uses, or leave them out to take the target's own",
            ),
            Self::Credentials {
                whose: "the profile's",
                ..
            } => Some(
                "check --username and TOKEN_CONFORMANCE_PASSWORD (or the profile's password_env); a 403 may also be a gateway that wants a --header, or an account that signs in through SSO. The run stopped after this one failed login, so the account is not locked",
            ),
            Self::Credentials { .. } => Some(
                "check --other-username and TOKEN_CONFORMANCE_OTHER_PASSWORD (or the profile's other_password_env). The run stopped after this one failed login, so the account is not locked",
            ),
            Self::NotTheApi { .. } => Some(
                "--target is the deployment's base URL (https://host or https://host/prefix), without the API's own path /integration/v1/...",
            ),
        }
    }
}

impl fmt::Display for RunError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Unreachable { url, cause } => write!(f, "{url}: {cause}"),
            Self::Control { url, cause } => write!(f, "control protocol at {url}: {cause}"),
            Self::Setup(e) => write!(f, "{}", e.message),
            Self::Config { message } => write!(f, "{message}"),
            Self::Credentials { whose, answer } => {
                write!(f, "{whose} credentials were refused: {answer}")
            }
            Self::NotTheApi { answer } => {
                write!(
                    f,
                    "the target does not answer the API's first login: {answer}"
                )
            }
        }
    }
}

impl From<RunError> for Error {
    fn from(e: RunError) -> Self {
        let hint = e.hint();
        let out = match e {
            RunError::Setup(inner) => return inner,
            c @ (RunError::Credentials { .. }
            | RunError::Config { .. }
            | RunError::NotTheApi { .. }) => Error::new(ErrorKind::Profile, c.to_string()),
            other => Error::new(ErrorKind::Unreachable, other.to_string()),
        };
        match hint {
            Some(h) => out.hint(h),
            None => out,
        }
    }
}

/// What went wrong with one of the run's own requests to the API (lending a case its tokens,
/// cleaning them between cases and at the end), typed so that its hint follows the cause.
#[derive(Debug)]
pub enum ApiError {
    /// The contract declares no operation for this role (`x-login`, an effect).
    NoOperation(&'static str),
    /// The token object lacks the value or owner field the request names it by.
    TokenLacksFields,
    /// The request got no answer.
    NoAnswer {
        /// The operation.
        operation: String,
        /// How it failed.
        cause: TransportError,
    },
    /// An answer, but not the one the run needed.
    Refused {
        /// The operation.
        operation: String,
        /// Its status.
        status: u16,
    },
    /// The run's token pool is closed: the run is ending.
    PoolClosed,
    /// A borrowed token lacks a field the case captures from it.
    LentTokenLacks(String),
    /// The case borrows more tokens than it declared.
    OverBorrowed,
}

impl ApiError {
    /// What to do about it.
    pub fn hint(&self) -> Option<&'static str> {
        match self {
            Self::NoAnswer {
                cause: TransportError::Tls(_),
                ..
            } => Some(
                "the target's certificate is not trusted: give --ca-file with its CA (or --insecure for a throw-away instance)",
            ),
            Self::NoAnswer {
                cause: TransportError::Timeout(_),
                ..
            } => Some("the target is slow to answer: raise --timeout, or lower --jobs"),
            Self::NoAnswer { .. } => Some("is the target still running?"),
            Self::Refused {
                status: 401 | 403, ..
            } => Some(
                "the profile's credentials stopped working during the run (changed, or the account locked?)",
            ),
            Self::Refused {
                status: 429 | 503, ..
            } => Some("the target refuses for load: lower --jobs, or give --rate"),
            Self::NoOperation(_) => {
                Some("the contract (--spec) lacks what the run needs to lend cases their tokens")
            }
            Self::LentTokenLacks(_) | Self::OverBorrowed => {
                Some("a case error: check the case's borrow_refresh_token step")
            }
            Self::Refused { .. } | Self::TokenLacksFields | Self::PoolClosed => None,
        }
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NoOperation(what) => write!(f, "the contract has no operation that {what}"),
            Self::TokenLacksFields => write!(f, "the token lacks its value or owner"),
            Self::NoAnswer { operation, cause } => write!(f, "{operation}: {cause}"),
            Self::Refused { operation, status } => write!(f, "{operation} answered {status}"),
            Self::PoolClosed => write!(f, "the run's token pool is closed"),
            Self::LentTokenLacks(path) => write!(f, "the lent token has nothing at {path}"),
            Self::OverBorrowed => write!(f, "the case borrows more tokens than the run lent it"),
        }
    }
}

impl std::error::Error for ApiError {}

/// What went wrong with one request to the control protocol.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ControlError {
    /// The step needs the control protocol and the target offers none.
    Absent,
    /// No usable answer.
    NoAnswer(TransportError),
    /// A non-2xx answer.
    Refused {
        /// `METHOD /path`.
        request: String,
        /// The status.
        status: u16,
        /// The start of the body.
        body: String,
    },
    /// A 2xx answer whose body is not JSON.
    NotJson {
        /// `METHOD /path`.
        request: String,
        /// The parser's complaint.
        cause: String,
    },
    /// A JSON answer without what the protocol promises.
    Malformed(String),
    /// The target did something other than what was asked.
    NotHonoured(String),
}

impl fmt::Display for ControlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Absent => {
                f.write_str("this step needs the control protocol, and the target has none")
            }
            Self::NoAnswer(e) => write!(f, "the control protocol did not answer: {e}"),
            Self::Refused {
                request,
                status,
                body,
            } => write!(f, "the control protocol refused {request}: {status} {body}"),
            Self::NotJson { request, cause } => write!(
                f,
                "the control protocol answered {request} with a body that is not JSON: {cause}"
            ),
            Self::Malformed(what) | Self::NotHonoured(what) => f.write_str(what),
        }
    }
}

/// Why a control step failed: the protocol, or a template in the step.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StepError {
    /// The control protocol.
    Control(ControlError),
    /// A template in the step.
    Template(TemplateError),
}

impl fmt::Display for StepError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Control(e) => e.fmt(f),
            Self::Template(e) => e.fmt(f),
        }
    }
}

impl From<ControlError> for StepError {
    fn from(e: ControlError) -> Self {
        Self::Control(e)
    }
}

impl From<TemplateError> for StepError {
    fn from(e: TemplateError) -> Self {
        Self::Template(e)
    }
}
