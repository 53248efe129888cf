//! `request.method`, `request.media_type`, `request.body`: the checks of a request against the
//! contract. A run never applies them (it breaks the contract on purpose to see the refusals);
//! the proxy applies them to the traffic of real clients, and a finding is the **client's**.

use serde_json::{Map, Value};

use super::{CheckInfo, Finding, Findings};
use crate::spec::{Operation, Spec};

/// A request the harness did not write.
pub struct RequestExchange<'a> {
    /// The contract.
    pub spec: &'a Spec,
    /// The operation whose path it was sent to.
    pub operation: &'a Operation,
    /// The method sent.
    pub method: &'a str,
    /// The `Content-Type` header, if any.
    pub content_type: Option<&'a str>,
    /// The `Content-Encoding` header, if any: a body in another coding than `identity` is not
    /// read (whether the target takes it is the target's business).
    pub content_encoding: Option<&'a str>,
    /// The body.
    pub body: &'a [u8],
}

/// The signature of a request check.
pub type RequestCheckFn = fn(&RequestExchange<'_>, &mut Findings);

/// The operation's method.
pub(crate) const METHOD: CheckInfo = CheckInfo::must(
    "request.method",
    "(client) A request to an operation's path uses the method the contract documents for it.",
)
.because(&["vendor-page"]);
/// A documented media type.
pub(crate) const MEDIA_TYPE: CheckInfo = CheckInfo::must(
    "request.media_type",
    "(client) A request's `Content-Type` is one the operation documents; its parameters and letter case aside.",
)
.because(&["vendor-page"]);
/// A body the schema accepts.
pub(crate) const BODY: CheckInfo = CheckInfo::must(
    "request.body",
    "(client) A request's body parses in its media type, gives no field twice, and matches the operation's request schema.",
)
.because(&["vendor-page"]);

/// Whether `id` is a request check's: a finding about the client, never the target.
pub(crate) fn is_client_check(id: &str) -> bool {
    REQUEST_CHECKS.iter().any(|(info, _)| info.id == id)
}

/// Every request check, in the order it runs and CHECKS.md lists it.
pub(crate) const REQUEST_CHECKS: &[(CheckInfo, RequestCheckFn)] =
    &[(METHOD, method), (MEDIA_TYPE, media_type), (BODY, body)];

/// Judges a request with every request check.
pub(crate) fn judge_request(r: &RequestExchange<'_>) -> Findings {
    let mut out = Findings::default();
    for (_, check) in REQUEST_CHECKS {
        check(r, &mut out);
    }
    out
}

/// `request.method`.
pub fn method(r: &RequestExchange<'_>, out: &mut Findings) {
    if !r.method.eq_ignore_ascii_case(&r.operation.method) {
        out.push(
            Finding::new(
                METHOD,
                format!("{} takes {}", r.operation.id, r.operation.method),
            )
            .values(r.operation.method.clone(), r.method),
        );
    }
}

/// Whether the request's media type is one the operation takes.
fn documented_type(r: &RequestExchange<'_>) -> bool {
    r.content_type.is_some_and(|ct| {
        let e = crate::encoding::essence(ct);
        r.operation
            .request_types
            .iter()
            .any(|t| t.eq_ignore_ascii_case(&e))
    })
}

/// `request.media_type`.
pub fn media_type(r: &RequestExchange<'_>, out: &mut Findings) {
    if r.operation.request_types.is_empty() || !r.method.eq_ignore_ascii_case(&r.operation.method) {
        return;
    }
    if !documented_type(r) {
        out.push(
            Finding::new(
                MEDIA_TYPE,
                format!("{} takes no body of this media type", r.operation.id),
            )
            .values(
                r.operation.request_types.join(", "),
                r.content_type.unwrap_or("no Content-Type"),
            ),
        );
    }
}

/// The fields of the body, or what is wrong with it.
fn fields(content_type: &str, body: &[u8]) -> Result<Map<String, Value>, String> {
    match crate::encoding::essence(content_type).as_str() {
        "application/json" => match serde_json::from_slice::<Value>(body) {
            Ok(Value::Object(m)) => Ok(m),
            Ok(other) => Err(format!(
                "the JSON body is {}, not an object",
                match other {
                    Value::Array(_) => "an array",
                    Value::String(_) => "a string",
                    Value::Number(_) => "a number",
                    Value::Bool(_) => "a boolean",
                    _ => "null",
                }
            )),
            Err(e) => Err(format!("the body is not JSON: {e}")),
        },
        "application/x-www-form-urlencoded" => {
            let text = std::str::from_utf8(body)
                .map_err(|_| "the form body is not UTF-8 after decoding".to_owned())?;
            let mut out = Map::new();
            for (k, v) in form_urlencoded::parse(text.as_bytes()) {
                if out
                    .insert(k.clone().into_owned(), Value::String(v.into_owned()))
                    .is_some()
                {
                    return Err(format!("the field `{k}` is given twice"));
                }
            }
            Ok(out)
        }
        "multipart/form-data" => {
            let boundary_given = content_type.to_ascii_lowercase().contains("boundary=");
            let m = crate::encoding::decode(content_type, body);
            if !boundary_given {
                Err("the multipart body has no boundary parameter".to_owned())
            } else if m.is_empty() && !body.is_empty() {
                Err("the multipart body has no part its boundary delimits".to_owned())
            } else {
                Ok(m)
            }
        }
        _ => Err("no field can be read from this media type".to_owned()),
    }
}

/// `request.body`.
pub fn body(r: &RequestExchange<'_>, out: &mut Findings) {
    let coded = r
        .content_encoding
        .is_some_and(|c| !c.trim().eq_ignore_ascii_case("identity"));
    if coded || !documented_type(r) || !r.method.eq_ignore_ascii_case(&r.operation.method) {
        return;
    }
    let content_type = r.content_type.unwrap_or_default();
    let map = match fields(content_type, r.body) {
        Ok(m) => m,
        Err(why) => {
            out.push(Finding::new(BODY, why));
            return;
        }
    };
    let violations = r.spec.validate_request(r.operation, &Value::Object(map), 5);
    if !violations.is_empty() {
        out.push(Finding::new(
            BODY,
            format!(
                "the body does not match {}'s request schema: {}",
                r.operation.id,
                violations.join("; ")
            ),
        ));
    }
}
