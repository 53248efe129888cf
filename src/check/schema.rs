//! `schema.body`: a success's fields, by name and type, are what clients read. An error's
//! body is how a framework spells a refusal, `error.shape`'s SHOULD.

use super::{CheckInfo, Context, Finding, Findings};

/// A success's body matches the documented schema.
pub(crate) const BODY: CheckInfo = CheckInfo::must(
    "schema.body",
    "A success's body matches the schema documented for that operation and status: clients read its fields by name and type.",
)
.because(&["vendor-page", "client:allie-sdk"]);

/// How many violations one finding lists.
const LIMIT: usize = 5;

/// `schema.body`.
pub fn body(cx: &Context<'_>, out: &mut Findings) {
    let (Some(doc), Some(json)) = (cx.documented, cx.json()) else {
        return;
    };
    if !cx.success() {
        return;
    }
    let errors = cx.x.spec.validate(doc, json, LIMIT);
    if errors.is_empty() {
        return;
    }
    let pointer = doc
        .schema_pointer
        .as_deref()
        .unwrap_or("the documented schema");
    out.push(Finding::new(
        BODY,
        format!(
            "the {} body does not match {pointer}: {}",
            cx.x.status(),
            errors.join("; ")
        ),
    ));
}
