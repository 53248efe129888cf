//! A case's expectations applied to a response: statuses, body matchers, header matchers, and
//! alternatives.
//!
//! Words of a field the contract documents as an enum (`token_status`) are compared without
//! regard to case: the case of such a word is a SHOULD property with a check of its own
//! (`token_status.uppercase`), and a case's `equals: ACTIVE` must not turn that warning into a
//! MUST failure.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::case::{Matcher, Outcome};
use crate::check::{EXPECT_BODY, EXPECT_HEADER, EXPECT_STATUS, Finding};
use crate::run::http::Received;
use crate::run::template::{Scope, render};

/// The value at a dotted path (`detail`, `a.b`, `items.0`); `$` is the whole body.
pub fn lookup<'v>(json: &'v Value, path: &str) -> Option<&'v Value> {
    if path == "$" {
        return Some(json);
    }
    path.split('.').try_fold(json, |v, part| match v {
        Value::Object(m) => m.get(part),
        Value::Array(items) => part.parse::<usize>().ok().and_then(|i| items.get(i)),
        _ => None,
    })
}

fn show(v: &Value) -> String {
    v.to_string()
}

/// One problem: (message, expected, actual).
type Problem = (String, String, String);

/// What a response is judged against.
pub struct Against<'a> {
    /// The response.
    pub resp: &'a Received,
    /// Its body, if JSON.
    pub json: Option<&'a Value>,
    /// The enum fields the contract documents for its status, with their words.
    pub enums: Option<&'a BTreeMap<String, Vec<String>>>,
    /// Captures so far.
    pub captures: &'a BTreeMap<String, Value>,
    /// What templates in matchers draw on.
    pub scope: &'a Scope<'a>,
}

impl Against<'_> {
    /// Whether `path` is a field whose words are compared without regard to case.
    fn caseless(&self, path: &str) -> bool {
        self.enums.is_some_and(|e| e.contains_key(path))
    }
}

/// Equality, ignoring the case of strings when `caseless`.
fn same(a: &Value, b: &Value, caseless: bool) -> bool {
    match (a, b) {
        (Value::String(x), Value::String(y)) if caseless => x.eq_ignore_ascii_case(y),
        _ => a == b,
    }
}

/// Problems with one value against one matcher; empty when it holds.
fn check_one(
    m: &Matcher,
    what: &str,
    value: Option<&Value>,
    caseless: bool,
    on: &Against<'_>,
) -> Vec<Problem> {
    let actual = value.map_or_else(|| "(absent)".to_owned(), show);
    if m.absent == Some(true) || m.present == Some(false) {
        return match value {
            Some(_) => vec![(format!("{what} is present"), "(absent)".into(), actual)],
            None => Vec::new(),
        };
    }
    let Some(v) = value else {
        if m.optional {
            return Vec::new();
        }
        return vec![(format!("{what} is absent"), "present".into(), actual)];
    };
    let mut out = Vec::new();
    out.extend(equals(m, what, v, caseless, on.scope));
    out.extend(one_of(m, what, v, caseless, on.scope));
    if let Some(kind) = m.kind.filter(|k| !k.matches(v)) {
        out.push((
            format!("{what} is not of type {}", kind.name()),
            kind.name().into(),
            show(v),
        ));
    }
    if let Some(crate::case::Pattern(re)) = &m.pattern
        && !v.as_str().is_some_and(|s| re.is_match(s))
    {
        let p = re.as_str();
        out.push((
            format!("{what} does not match /{p}/"),
            format!("/{p}/"),
            show(v),
        ));
    }
    out.extend(captured(m, what, v, on.captures));
    out.extend(ordered(m, what, v, on.captures));
    out
}

/// `equals`.
fn equals(
    m: &Matcher,
    what: &str,
    v: &Value,
    caseless: bool,
    scope: &Scope<'_>,
) -> Option<Problem> {
    let expected = m.equals.as_ref()?;
    match render(expected, scope) {
        Ok(e) if same(&e, v, caseless) => None,
        Ok(e) => Some((format!("{what} differs"), show(&e), show(v))),
        Err(err) => Some((format!("{what}: {err}"), String::new(), show(v))),
    }
}

/// `one_of`.
fn one_of(
    m: &Matcher,
    what: &str,
    v: &Value,
    caseless: bool,
    scope: &Scope<'_>,
) -> Option<Problem> {
    let options = m.one_of.as_ref()?;
    let rendered: Vec<Value> = options
        .iter()
        .filter_map(|o| render(o, scope).ok())
        .collect();
    if rendered.iter().any(|o| same(o, v, caseless)) {
        return None;
    }
    let list: Vec<String> = rendered.iter().map(show).collect();
    Some((
        format!("{what} is none of the expected values"),
        format!("one of {}", list.join(", ")),
        show(v),
    ))
}

/// `same_as` and `different_from`.
fn captured(
    m: &Matcher,
    what: &str,
    v: &Value,
    captures: &BTreeMap<String, Value>,
) -> Vec<Problem> {
    let mut out = Vec::new();
    if let Some(name) = &m.same_as {
        let c = captures.get(name);
        if c != Some(v) {
            out.push((
                format!("{what} is not the same as capture `{name}`"),
                c.map_or("(not captured)".into(), show),
                show(v),
            ));
        }
    }
    if let Some(name) = &m.different_from
        && captures.get(name) == Some(v)
    {
        out.push((
            format!("{what} equals capture `{name}`"),
            format!("different from `{name}`"),
            show(v),
        ));
    }
    out
}

/// `later_than` and `not_before`: date-times compared with an earlier capture's.
fn ordered(m: &Matcher, what: &str, v: &Value, captures: &BTreeMap<String, Value>) -> Vec<Problem> {
    let time = |v: Option<&Value>| {
        v.and_then(Value::as_str)
            .and_then(crate::check::parse_timestamp)
    };
    let mut out = Vec::new();
    for (name, strict) in [(&m.later_than, true), (&m.not_before, false)] {
        let Some(name) = name else { continue };
        let (Some(t), Some(c)) = (time(Some(v)), time(captures.get(name))) else {
            out.push((
                format!("{what} and capture `{name}` are not both date-times"),
                "two RFC 3339 date-times".into(),
                show(v),
            ));
            continue;
        };
        let ok = if strict { t > c } else { t >= c };
        if !ok {
            let rel = if strict {
                "later than"
            } else {
                "no earlier than"
            };
            out.push((
                format!("{what} is not {rel} capture `{name}`"),
                format!(
                    "{rel} {}",
                    captures.get(name).map_or_else(String::new, show)
                ),
                show(v),
            ));
        }
    }
    out
}

/// The findings of one outcome; empty when it matches.
pub fn outcome_findings(o: &Outcome, on: &Against<'_>) -> Vec<Finding> {
    let mut out = Vec::new();
    let status = on.resp.status;
    if let Some(st) = &o.status
        && !st.0.contains(&status)
    {
        let want: Vec<String> = st.0.iter().map(u16::to_string).collect();
        out.push(
            Finding::new(
                EXPECT_STATUS,
                format!("expected status {}, got {status}", want.join(" or ")),
            )
            .values(want.join(" or "), status.to_string()),
        );
        // The body of an unexpected status says nothing about the matchers.
        return out;
    }
    for (path, m) in &o.body {
        let value = on.json.and_then(|j| lookup(j, path));
        for (msg, e, a) in check_one(m, &format!("`{path}`"), value, on.caseless(path), on) {
            out.push(Finding::new(EXPECT_BODY, msg).values(e, a));
        }
    }
    for (name, m) in &o.headers {
        let value = on.resp.header(name).map(|h| Value::String(h.to_owned()));
        for (msg, e, a) in check_one(m, &format!("header `{name}`"), value.as_ref(), false, on) {
            out.push(Finding::new(EXPECT_HEADER, msg).values(e, a));
        }
    }
    out
}

/// The findings of an expectation with alternatives: empty when any alternative matches;
/// otherwise the findings of the only alternative, or one finding that lists why each failed.
pub fn expect_findings(outcomes: &[Outcome], on: &Against<'_>) -> Vec<Finding> {
    let mut all = Vec::new();
    for o in outcomes {
        let f = outcome_findings(o, on);
        if f.is_empty() {
            return Vec::new();
        }
        all.push(f);
    }
    if all.len() == 1 {
        return all.pop().unwrap_or_default();
    }
    let reasons: Vec<String> = all
        .iter()
        .enumerate()
        .map(|(i, f)| {
            format!(
                "alternative {}: {}",
                i + 1,
                f.first().map_or("", |f| f.message.as_str())
            )
        })
        .collect();
    let check = if all
        .iter()
        .all(|f| f.first().is_some_and(|f| f.check == EXPECT_STATUS.id))
    {
        EXPECT_STATUS
    } else {
        EXPECT_BODY
    };
    vec![Finding::new(
        check,
        format!(
            "none of the {} expected outcomes matched ({})",
            all.len(),
            reasons.join("; ")
        ),
    )]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::case::Statuses;
    use serde_json::json;

    fn resp(status: u16) -> Received {
        Received {
            status,
            headers: vec![("cache-control".into(), "no-store".into())],
            body: Vec::new(),
            elapsed: std::time::Duration::ZERO,
        }
    }

    fn scope(captures: &BTreeMap<String, Value>) -> Scope<'_> {
        Scope {
            username: "u",
            password: "p",
            sso_username: None,
            other_user_id: None,
            unique: "x",
            name: "n",
            run_id: "r",
            captures,
        }
    }

    fn matcher(f: impl FnOnce(&mut Matcher)) -> Matcher {
        let mut m = Matcher::default();
        f(&mut m);
        m
    }

    #[test]
    fn alternatives_pass_when_one_matches() {
        let captures = BTreeMap::from([("t".to_owned(), json!("abc"))]);
        let scope = scope(&captures);
        let dead: Outcome = Outcome {
            status: Some(Statuses(vec![401])),
            ..Outcome::default()
        };
        let mut alive = Outcome {
            status: Some(Statuses(vec![200])),
            ..Outcome::default()
        };
        alive.body.insert(
            "token_status".into(),
            matcher(|m| m.one_of = Some(vec![json!("EXPIRED"), json!("REVOKED")])),
        );
        alive.body.insert(
            "refresh_token".into(),
            matcher(|m| m.same_as = Some("t".into())),
        );
        let outcomes = vec![dead, alive];
        let body = json!({"token_status": "REVOKED", "refresh_token": "abc"});
        let (r200, r401, r500) = (resp(200), resp(401), resp(500));
        let on = |resp, json| Against {
            resp,
            json,
            enums: None,
            captures: &captures,
            scope: &scope,
        };
        assert!(expect_findings(&outcomes, &on(&r200, Some(&body))).is_empty());
        assert!(expect_findings(&outcomes, &on(&r401, None)).is_empty());
        let active = json!({"token_status": "ACTIVE", "refresh_token": "abc"});
        let f = expect_findings(&outcomes, &on(&r200, Some(&active)));
        assert_eq!(f.len(), 1);
        assert!(f[0].message.contains("none of the 2"), "{}", f[0].message);
        let f = expect_findings(&outcomes, &on(&r500, None));
        assert_eq!(f[0].check, "expect.status");
    }

    #[test]
    fn enum_words_compare_without_regard_to_case() {
        let captures = BTreeMap::new();
        let scope = scope(&captures);
        let enums = BTreeMap::from([("token_status".to_owned(), vec!["ACTIVE".to_owned()])]);
        let mut o = Outcome {
            status: Some(Statuses(vec![200])),
            ..Outcome::default()
        };
        o.body.insert(
            "token_status".into(),
            matcher(|m| m.equals = Some(json!("ACTIVE"))),
        );
        o.body
            .insert("name".into(), matcher(|m| m.equals = Some(json!("ABC"))));
        let r = resp(200);
        let body = json!({"token_status": "active", "name": "ABC"});
        let on = Against {
            resp: &r,
            json: Some(&body),
            enums: Some(&enums),
            captures: &captures,
            scope: &scope,
        };
        assert!(
            outcome_findings(&o, &on).is_empty(),
            "the case of an enum word is a SHOULD, checked elsewhere"
        );
        let body = json!({"token_status": "ACTIVE", "name": "abc"});
        let on = Against {
            json: Some(&body),
            ..on
        };
        assert_eq!(
            outcome_findings(&o, &on).len(),
            1,
            "other fields compare exactly"
        );
    }

    #[test]
    fn matchers_report_expected_and_actual() {
        let captures = BTreeMap::from([("then".to_owned(), json!("2026-01-01T00:00:00Z"))]);
        let scope = scope(&captures);
        let mut o = Outcome {
            status: Some(Statuses(vec![200])),
            ..Outcome::default()
        };
        o.body.insert(
            "last_used_at".into(),
            matcher(|m| m.equals = Some(Value::Null)),
        );
        o.body.insert(
            "name".into(),
            matcher(|m| m.equals = Some(json!("{{ run.unique }}"))),
        );
        o.body
            .insert("secret".into(), matcher(|m| m.absent = Some(true)));
        o.body.insert(
            "maybe".into(),
            matcher(|m| {
                m.optional = true;
                m.equals = Some(Value::Null);
            }),
        );
        o.body.insert(
            "created_at".into(),
            matcher(|m| m.later_than = Some("then".into())),
        );
        o.headers.insert(
            "Cache-Control".into(),
            matcher(|m| {
                m.pattern = Some(crate::case::Pattern(
                    regex::Regex::new("no-store").expect("regex"),
                ));
            }),
        );
        let r = resp(200);
        let good = json!({"last_used_at": null, "name": "x", "created_at": "2026-01-01T00:00:01Z"});
        let on = Against {
            resp: &r,
            json: Some(&good),
            enums: None,
            captures: &captures,
            scope: &scope,
        };
        assert!(
            outcome_findings(&o, &on).is_empty(),
            "{:#?}",
            outcome_findings(&o, &on)
        );
        let bad = json!({"last_used_at": "2020-01-01T00:00:00Z", "name": "y", "secret": 1, "maybe": 3, "created_at": "2026-01-01T00:00:00Z"});
        let on = Against {
            json: Some(&bad),
            ..on
        };
        let f = outcome_findings(&o, &on);
        assert_eq!(f.len(), 5, "{f:#?}");
        assert!(f.iter().any(
            |f| f.expected.as_deref() == Some("\"x\"") && f.actual.as_deref() == Some("\"y\"")
        ));
        assert!(
            f.iter()
                .any(|f| f.message.contains("is not later than capture `then`"))
        );
    }
}
