//! A case's expectations applied to a response: statuses, body matchers, header matchers, and
//! alternatives.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::case::{Matcher, Outcome};
use crate::check::{EXPECT_BODY, EXPECT_HEADER, EXPECT_STATUS, Finding};
use crate::run::http::Received;
use crate::run::template::{Scope, render};

/// The value at a dotted path (`detail`, `a.b`, `items.0`).
pub fn lookup<'v>(json: &'v Value, path: &str) -> Option<&'v Value> {
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

/// Problems with one value against one matcher; empty when it holds.
fn check_one(
    m: &Matcher,
    what: &str,
    value: Option<&Value>,
    captures: &BTreeMap<String, Value>,
    scope: &Scope<'_>,
) -> Vec<Problem> {
    let actual = value.map_or_else(|| "(absent)".to_owned(), show);
    if m.absent == Some(true) || m.present == Some(false) {
        return match value {
            Some(_) => vec![(format!("{what} is present"), "(absent)".into(), actual)],
            None => Vec::new(),
        };
    }
    let Some(v) = value else {
        return vec![(format!("{what} is absent"), "present".into(), actual)];
    };
    let mut out = Vec::new();
    out.extend(equals(m, what, v, scope));
    out.extend(one_of(m, what, v, scope));
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
    out.extend(captured(m, what, v, captures));
    out
}

/// `equals`.
fn equals(m: &Matcher, what: &str, v: &Value, scope: &Scope<'_>) -> Option<Problem> {
    let expected = m.equals.as_ref()?;
    match render(expected, scope) {
        Ok(e) if &e == v => None,
        Ok(e) => Some((format!("{what} differs"), show(&e), show(v))),
        Err(err) => Some((format!("{what}: {err}"), String::new(), show(v))),
    }
}

/// `one_of`.
fn one_of(m: &Matcher, what: &str, v: &Value, scope: &Scope<'_>) -> Option<Problem> {
    let options = m.one_of.as_ref()?;
    let rendered: Vec<Value> = options
        .iter()
        .filter_map(|o| render(o, scope).ok())
        .collect();
    if rendered.contains(v) {
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

/// The findings of one outcome; empty when it matches.
pub fn outcome_findings(
    o: &Outcome,
    resp: &Received,
    json: Option<&Value>,
    captures: &BTreeMap<String, Value>,
    scope: &Scope<'_>,
) -> Vec<Finding> {
    let mut out = Vec::new();
    if let Some(st) = &o.status
        && !st.0.contains(&resp.status)
    {
        let want: Vec<String> = st.0.iter().map(u16::to_string).collect();
        out.push(
            Finding::new(
                EXPECT_STATUS,
                format!("expected status {}, got {}", want.join(" or "), resp.status),
            )
            .values(want.join(" or "), resp.status.to_string()),
        );
        // The body of an unexpected status says nothing about the matchers.
        return out;
    }
    for (path, m) in &o.body {
        let value = json.and_then(|j| lookup(j, path));
        for (msg, e, a) in check_one(m, &format!("`{path}`"), value, captures, scope) {
            out.push(Finding::new(EXPECT_BODY, msg).values(e, a));
        }
    }
    for (name, m) in &o.headers {
        let value = resp.header(name).map(|h| Value::String(h.to_owned()));
        for (msg, e, a) in check_one(
            m,
            &format!("header `{name}`"),
            value.as_ref(),
            captures,
            scope,
        ) {
            out.push(Finding::new(EXPECT_HEADER, msg).values(e, a));
        }
    }
    out
}

/// The findings of an expectation with alternatives: empty when any alternative matches;
/// otherwise the findings of the only alternative, or one finding that lists why each failed.
pub fn expect_findings(
    outcomes: &[Outcome],
    resp: &Received,
    json: Option<&Value>,
    captures: &BTreeMap<String, Value>,
    scope: &Scope<'_>,
) -> Vec<Finding> {
    let mut all = Vec::new();
    for o in outcomes {
        let f = outcome_findings(o, resp, json, captures, scope);
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

    #[test]
    fn alternatives_pass_when_one_matches() {
        let captures = BTreeMap::from([("t".to_owned(), json!("abc"))]);
        let scope = Scope {
            username: "u",
            password: "p",
            unique: "x",
            run_id: "r",
            captures: &captures,
        };
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
            Matcher {
                one_of: Some(vec![json!("EXPIRED"), json!("REVOKED")]),
                ..Matcher::default()
            },
        );
        alive.body.insert(
            "refresh_token".into(),
            Matcher {
                same_as: Some("t".into()),
                ..Matcher::default()
            },
        );
        let outcomes = vec![dead, alive];
        let body = json!({"token_status": "REVOKED", "refresh_token": "abc"});
        assert!(expect_findings(&outcomes, &resp(200), Some(&body), &captures, &scope).is_empty());
        assert!(expect_findings(&outcomes, &resp(401), None, &captures, &scope).is_empty());
        let active = json!({"token_status": "ACTIVE", "refresh_token": "abc"});
        let f = expect_findings(&outcomes, &resp(200), Some(&active), &captures, &scope);
        assert_eq!(f.len(), 1);
        assert!(f[0].message.contains("none of the 2"), "{}", f[0].message);
        let f = expect_findings(&outcomes, &resp(500), None, &captures, &scope);
        assert_eq!(f[0].check, "expect.status");
    }

    #[test]
    fn matchers_report_expected_and_actual() {
        let captures = BTreeMap::new();
        let scope = Scope {
            username: "u",
            password: "p",
            unique: "x",
            run_id: "r",
            captures: &captures,
        };
        let mut o = Outcome {
            status: Some(Statuses(vec![200])),
            ..Outcome::default()
        };
        o.body.insert(
            "last_used_at".into(),
            Matcher {
                equals: Some(Value::Null),
                ..Matcher::default()
            },
        );
        o.body.insert(
            "name".into(),
            Matcher {
                equals: Some(json!("{{ run.unique }}")),
                ..Matcher::default()
            },
        );
        o.body.insert(
            "secret".into(),
            Matcher {
                absent: Some(true),
                ..Matcher::default()
            },
        );
        o.headers.insert(
            "Cache-Control".into(),
            Matcher {
                pattern: Some(crate::case::Pattern(
                    regex::Regex::new("no-store").expect("regex"),
                )),
                ..Matcher::default()
            },
        );
        let good = json!({"last_used_at": null, "name": "x"});
        assert!(outcome_findings(&o, &resp(200), Some(&good), &captures, &scope).is_empty());
        let bad = json!({"last_used_at": "2020-01-01T00:00:00Z", "name": "y", "secret": 1});
        let f = outcome_findings(&o, &resp(200), Some(&bad), &captures, &scope);
        assert_eq!(f.len(), 3, "{f:#?}");
        assert!(f.iter().any(
            |f| f.expected.as_deref() == Some("\"x\"") && f.actual.as_deref() == Some("\"y\"")
        ));
    }
}
