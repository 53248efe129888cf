//! A case's expectations applied to a response: statuses, body matchers, header matchers, and
//! alternatives.
//!
//! Words of a field the contract documents as an enum (`token_status`) are compared without
//! regard to case: the case of such a word is a SHOULD property with a check of its own
//! (`token_status.uppercase`), and a case's `equals: ACTIVE` must not turn that warning into a
//! MUST failure.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::case::template::{Scope, render};
use crate::case::{Matcher, Outcome};
use crate::check::{EXPECT_BODY, EXPECT_HEADER, EXPECT_PREFERRED, EXPECT_STATUS, Finding};
use crate::wire;

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

/// What one matcher found wrong: a message, and the expected and actual values reports show
/// beside it.
struct Mismatch {
    message: String,
    expected: String,
    actual: String,
}

impl Mismatch {
    fn new(message: String, expected: String, actual: String) -> Self {
        Self {
            message,
            expected,
            actual,
        }
    }

    /// As a finding of `check`.
    fn finding(self, check: crate::check::CheckInfo) -> Finding {
        Finding::new(check, self.message).values(self.expected, self.actual)
    }
}

/// What a response is judged against.
pub struct Against<'a> {
    /// The response.
    pub resp: &'a wire::Response,
    /// Its body, if JSON.
    pub json: Option<&'a Value>,
    /// The enum fields the contract documents for its status, with their words.
    pub enums: Option<&'a BTreeMap<String, Vec<String>>>,
    /// Captures so far.
    pub captures: &'a BTreeMap<String, Value>,
    /// What templates in matchers draw on.
    pub scope: &'a Scope<'a>,
}

/// What a matcher may compare a value with besides itself: the captures so far, and what
/// templates draw on.
pub(crate) struct Known<'a> {
    /// Captures so far.
    pub(crate) captures: &'a BTreeMap<String, Value>,
    /// What templates in matchers draw on.
    pub(crate) scope: &'a Scope<'a>,
}

impl Against<'_> {
    /// What its matchers compare with.
    fn known(&self) -> Known<'_> {
        Known {
            captures: self.captures,
            scope: self.scope,
        }
    }

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

/// Mismatchs with one value against one matcher; empty when it holds.
fn check_one(
    m: &Matcher,
    what: &str,
    value: Option<&Value>,
    caseless: bool,
    known: &Known<'_>,
) -> Vec<Mismatch> {
    let actual = value.map_or_else(|| "(absent)".to_owned(), show);
    if m.absent == Some(true) || m.present == Some(false) {
        return match value {
            Some(_) => vec![Mismatch::new(
                format!("{what} is present"),
                "(absent)".into(),
                actual,
            )],
            None => Vec::new(),
        };
    }
    let Some(v) = value else {
        if m.optional {
            return Vec::new();
        }
        return vec![Mismatch::new(
            format!("{what} is absent"),
            "present".into(),
            actual,
        )];
    };
    let mut out = Vec::new();
    out.extend(equals(m, what, v, caseless, known.scope));
    out.extend(one_of(m, what, v, caseless, known.scope));
    if let Some(kind) = m.kind.filter(|k| !k.matches(v)) {
        out.push(Mismatch::new(
            format!("{what} is not of type {}", kind.name()),
            kind.name().into(),
            show(v),
        ));
    }
    if let Some(crate::case::Pattern(re)) = &m.pattern
        && !v.as_str().is_some_and(|s| re.is_match(s))
    {
        let p = re.as_str();
        out.push(Mismatch::new(
            format!("{what} does not match /{p}/"),
            format!("/{p}/"),
            show(v),
        ));
    }
    out.extend(captured(m, what, v, known.captures));
    out.extend(ordered(m, what, v, known.captures));
    out
}

/// `equals`.
fn equals(
    m: &Matcher,
    what: &str,
    v: &Value,
    caseless: bool,
    scope: &Scope<'_>,
) -> Option<Mismatch> {
    let expected = m.equals.as_ref()?;
    match render(expected, scope) {
        Ok(e) if same(&e, v, caseless) => None,
        Ok(e) => {
            let message = match (&e, v) {
                (Value::String(a), Value::String(b)) => {
                    format!("{what} differs {}", first_difference(a, b))
                }
                _ => format!("{what} differs"),
            };
            Some(Mismatch::new(message, show(&e), show(v)))
        }
        Err(err) => Some(Mismatch::new(
            format!("{what}: {err}"),
            String::new(),
            show(v),
        )),
    }
}

/// Where two texts part, in code points: which code points were sent and which came back
/// there, so that a normalised `é` or a decoded `%41` is named rather than hidden in two long
/// strings that look the same on screen.
fn first_difference(expected: &str, actual: &str) -> String {
    let (e, a): (Vec<char>, Vec<char>) = (expected.chars().collect(), actual.chars().collect());
    let at = e.iter().zip(&a).take_while(|(x, y)| x == y).count();
    // A few code points from there show a composed character against its decomposition.
    let near = |chars: &[char]| -> String {
        let shown: Vec<String> = chars
            .iter()
            .skip(at)
            .take(3)
            .map(|c| format!("U+{:04X}", u32::from(*c)))
            .collect();
        if shown.is_empty() {
            "nothing".to_owned()
        } else {
            shown.join(" ")
        }
    };
    format!(
        "from code point {} on: expected {}, got {} ({} code points expected, {} got)",
        at + 1,
        near(&e),
        near(&a),
        e.len(),
        a.len()
    )
}

/// `one_of`.
fn one_of(
    m: &Matcher,
    what: &str,
    v: &Value,
    caseless: bool,
    scope: &Scope<'_>,
) -> Option<Mismatch> {
    let options = m.one_of.as_ref()?;
    let rendered: Vec<Value> = options
        .iter()
        .filter_map(|o| render(o, scope).ok())
        .collect();
    if rendered.iter().any(|o| same(o, v, caseless)) {
        return None;
    }
    let list: Vec<String> = rendered.iter().map(show).collect();
    Some(Mismatch::new(
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
) -> Vec<Mismatch> {
    let mut out = Vec::new();
    if let Some(name) = &m.same_as {
        let c = captures.get(name);
        if c != Some(v) {
            out.push(Mismatch::new(
                format!("{what} is not the same as capture `{name}`"),
                c.map_or("(not captured)".into(), show),
                show(v),
            ));
        }
    }
    if let Some(name) = &m.different_from
        && captures.get(name) == Some(v)
    {
        out.push(Mismatch::new(
            format!("{what} equals capture `{name}`"),
            format!("different from `{name}`"),
            show(v),
        ));
    }
    out
}

/// `later_than` and `not_before`: date-times compared with an earlier capture's.
fn ordered(
    m: &Matcher,
    what: &str,
    v: &Value,
    captures: &BTreeMap<String, Value>,
) -> Vec<Mismatch> {
    let time = |v: Option<&Value>| {
        v.and_then(Value::as_str)
            .and_then(crate::check::parse_timestamp)
    };
    let mut out = Vec::new();
    for (name, strict) in [(&m.later_than, true), (&m.not_before, false)] {
        let Some(name) = name else { continue };
        let (Some(t), Some(c)) = (time(Some(v)), time(captures.get(name))) else {
            out.push(Mismatch::new(
                format!("{what} and capture `{name}` are not both date-times"),
                "two RFC 3339 date-times".into(),
                show(v),
            ));
            continue;
        };
        let ok = if strict { t > c } else { t >= c };
        if !ok {
            let (rel, failed) = if strict {
                ("later than", "is not later than")
            } else {
                ("no earlier than", "is earlier than")
            };
            out.push(Mismatch::new(
                format!("{what} {failed} capture `{name}`"),
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

/// The status part of an outcome: `Err` when the status rules it out, else the warning a
/// refusal with a status other than the preferred ones gives.
fn status_findings(o: &Outcome, status: u16) -> Result<Option<Finding>, Finding> {
    let listed = |st: &[u16]| {
        st.iter()
            .map(u16::to_string)
            .collect::<Vec<_>>()
            .join(" or ")
    };
    match (&o.status, &o.refused) {
        (Some(st), _) if !st.0.contains(&status) => Err(Finding::new(
            EXPECT_STATUS,
            format!("expected status {}, got {status}", listed(&st.0)),
        )
        .values(listed(&st.0), status.to_string())),
        (None, Some(pref)) if !(400..500).contains(&status) => Err(Finding::new(
            EXPECT_STATUS,
            format!(
                "expected a refusal (a 4xx, preferably {}), got {status}",
                listed(&pref.0)
            ),
        )
        .values(
            format!("a 4xx, preferably {}", listed(&pref.0)),
            status.to_string(),
        )),
        (None, Some(pref)) if !pref.0.contains(&status) => Ok(Some(
            Finding::new(
                EXPECT_PREFERRED,
                format!(
                    "the request was refused with {status}; the contract prefers {}",
                    listed(&pref.0)
                ),
            )
            .values(listed(&pref.0), status.to_string()),
        )),
        _ => Ok(None),
    }
}

/// What one outcome makes of the response: `Err` with its findings when it does not match,
/// `Ok` with the warnings it gives when it does (a refusal with another status than preferred,
/// a SHOULD matcher that does not hold, the outcome's own `warn`).
fn outcome_findings(o: &Outcome, on: &Against<'_>) -> Result<Vec<Finding>, Vec<Finding>> {
    let mut must = Vec::new();
    let mut warnings = Vec::new();
    if let Some(mut m) = when_problem(o, &on.known()) {
        m.message = format!("this outcome does not apply here: {}", m.message);
        return Err(vec![m.finding(EXPECT_STATUS)]);
    }
    match status_findings(o, on.resp.status) {
        // The body of an unexpected status says nothing about the matchers.
        Err(f) => return Err(vec![f]),
        Ok(w) => warnings.extend(w),
    }
    let mut add = |m: &Matcher, check, problems: Vec<Mismatch>| {
        for mut p in problems {
            if m.severity == crate::spec::Severity::Should {
                p.message = format!("{} (the contract prefers it)", p.message);
                warnings.push(p.finding(EXPECT_PREFERRED));
            } else {
                must.push(p.finding(check));
            }
        }
    };
    for (path, m) in &o.body {
        let value = on.json.and_then(|j| lookup(j, path));
        let problems = check_one(
            m,
            &format!("`{path}`"),
            value,
            on.caseless(path),
            &on.known(),
        );
        add(m, EXPECT_BODY, problems);
    }
    for (name, m) in &o.headers {
        let value = on.resp.header(name).map(|h| Value::String(h.to_owned()));
        let problems = check_one(
            m,
            &format!("header `{name}`"),
            value.as_ref(),
            false,
            &on.known(),
        );
        add(m, EXPECT_HEADER, problems);
    }
    if !must.is_empty() {
        return Err(must);
    }
    if let Some(text) = &o.warn {
        warnings.push(Finding::new(EXPECT_PREFERRED, text.clone()));
    }
    Ok(warnings)
}

/// Why an outcome's `when` does not hold, if it does not.
fn when_problem(o: &Outcome, known: &Known<'_>) -> Option<Mismatch> {
    o.when.iter().find_map(|(name, m)| {
        let what = format!("capture `{name}`");
        check_one(m, &what, known.captures.get(name), false, known)
            .into_iter()
            .next()
    })
}

/// The statuses the outcomes that apply here name (one whose `when` does not hold names
/// none): what the status checks take as the step's expectation.
pub(crate) fn expected_statuses(outcomes: &[Outcome], known: &Known<'_>) -> Vec<u16> {
    let mut out: Vec<u16> = Vec::new();
    for o in outcomes.iter().filter(|o| when_problem(o, known).is_none()) {
        for s in o.statuses() {
            if !out.contains(&s) {
                out.push(s);
            }
        }
    }
    out
}

/// What an expectation makes of the response: the first outcome that matches decides, and
/// gives its warnings (`matched` is its index); when none matches, the findings of the only
/// alternative, or one finding that lists why each failed.
pub struct Matched {
    /// The findings: failures when no outcome matched, else the matching outcome's warnings.
    pub findings: Vec<Finding>,
    /// The outcome that matched, if one did.
    pub matched: Option<usize>,
}

/// Judges a response against a step's outcomes.
pub(crate) fn expect_findings(outcomes: &[Outcome], on: &Against<'_>) -> Matched {
    let mut all = Vec::new();
    for (i, o) in outcomes.iter().enumerate() {
        match outcome_findings(o, on) {
            Ok(warnings) => {
                return Matched {
                    findings: warnings,
                    matched: Some(i),
                };
            }
            Err(f) => all.push(f),
        }
    }
    Matched {
        findings: unmatched(all),
        matched: None,
    }
}

/// The findings of an expectation none of whose outcomes matched.
fn unmatched(mut all: Vec<Vec<Finding>>) -> Vec<Finding> {
    if all.len() == 1 {
        return all.swap_remove(0);
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
    #[test]
    fn a_text_that_differs_names_the_code_points_where_it_parts() {
        let composed = super::first_difference("name e\u{301} x", "name \u{e9} x");
        assert_eq!(
            composed,
            "from code point 6 on: expected U+0065 U+0301 U+0020, got U+00E9 U+0020 U+0078 (9 code points expected, 8 got)"
        );
        let cut = super::first_difference("abc", "ab");
        assert_eq!(
            cut,
            "from code point 3 on: expected U+0063, got nothing (3 code points expected, 2 got)"
        );
    }

    use super::*;
    use crate::case::Statuses;
    use serde_json::json;

    fn resp(status: u16) -> wire::Response {
        wire::Response {
            status,
            headers: vec![("cache-control".into(), "no-store".into())],
            body: bytes::Bytes::new(),
        }
    }

    fn scope(captures: &BTreeMap<String, Value>) -> Scope<'_> {
        Scope {
            username: "u",
            password: "p",
            sso_username: None,
            other_user_id: None,
            other_login: None,
            issued: None,
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
        let j = expect_findings(&outcomes, &on(&r200, Some(&body)));
        assert!(j.findings.is_empty() && j.matched == Some(1));
        let j = expect_findings(&outcomes, &on(&r401, None));
        assert!(j.findings.is_empty() && j.matched == Some(0));
        let active = json!({"token_status": "ACTIVE", "refresh_token": "abc"});
        let f = expect_findings(&outcomes, &on(&r200, Some(&active)));
        assert_eq!((f.findings.len(), f.matched), (1, None));
        let message = &f.findings[0].message;
        assert!(message.contains("none of the 2"), "{message}");
        let f = expect_findings(&outcomes, &on(&r500, None));
        assert_eq!(f.findings[0].check, "expect.status");
    }

    /// An outcome whose `when` does not hold is no outcome here: its status is not expected, so
    /// a success the lax framework may give only the owner 1 counts as taking a refusal for
    /// anyone else.
    #[test]
    fn an_outcome_applies_only_where_its_when_holds() {
        let mut lax = Outcome {
            status: Some(Statuses(vec![200])),
            warn: Some("lax".into()),
            ..Outcome::default()
        };
        lax.when
            .insert("user_id".into(), matcher(|m| m.equals = Some(json!(1))));
        let refusal = Outcome {
            refused: Some(Statuses(vec![400])),
            ..Outcome::default()
        };
        let outcomes = [refusal, lax];
        for (owner, want) in [(1, vec![400, 200]), (5, vec![400])] {
            let captures = BTreeMap::from([("user_id".to_owned(), json!(owner))]);
            let scope = scope(&captures);
            let known = Known {
                captures: &captures,
                scope: &scope,
            };
            assert_eq!(expected_statuses(&outcomes, &known), want, "owner {owner}");
            let r200 = resp(200);
            let on = Against {
                resp: &r200,
                json: None,
                enums: None,
                captures: &captures,
                scope: &scope,
            };
            let j = expect_findings(&outcomes, &on);
            assert_eq!(
                j.matched.is_some(),
                owner == 1,
                "owner {owner}: {:?}",
                j.findings
            );
        }
    }

    #[test]
    fn a_refusal_takes_any_4xx_and_warns_off_its_preferred_statuses() {
        let captures = BTreeMap::new();
        let scope = scope(&captures);
        let refusal = Outcome {
            refused: Some(Statuses(vec![400])),
            ..Outcome::default()
        };
        let on = |resp| Against {
            resp,
            json: None,
            enums: None,
            captures: &captures,
            scope: &scope,
        };
        let outcomes = [refusal];
        let (r400, r401, r200, r500) = (resp(400), resp(401), resp(200), resp(500));
        let j = expect_findings(&outcomes, &on(&r400));
        assert!(j.findings.is_empty() && j.matched == Some(0));
        let j = expect_findings(&outcomes, &on(&r401));
        assert_eq!(j.matched, Some(0), "a 401 is a refusal too");
        assert_eq!(j.findings.len(), 1);
        assert_eq!(j.findings[0].check, "expect.preferred");
        assert_eq!(j.findings[0].severity, crate::spec::Severity::Should);
        for r in [&r200, &r500] {
            let j = expect_findings(&outcomes, &on(r));
            assert_eq!(j.matched, None, "{} is no refusal", r.status);
            assert_eq!(j.findings[0].check, "expect.status");
            assert_eq!(j.findings[0].severity, crate::spec::Severity::Must);
        }
    }

    #[test]
    fn a_conformant_but_not_preferred_outcome_warns_and_should_matchers_only_warn() {
        let captures = BTreeMap::new();
        let scope = scope(&captures);
        let preferred = Outcome {
            refused: Some(Statuses(vec![400])),
            ..Outcome::default()
        };
        let mut polluted = Outcome {
            status: Some(Statuses(vec![200])),
            warn: Some("took one of two values".into()),
            ..Outcome::default()
        };
        polluted.body.insert(
            "name".into(),
            matcher(|m| m.one_of = Some(vec![json!("a"), json!("b")])),
        );
        polluted.body.insert(
            "detail".into(),
            matcher(|m| {
                m.equals = Some(json!("exact words"));
                m.severity = crate::spec::Severity::Should;
            }),
        );
        let outcomes = [preferred, polluted];
        let r = resp(200);
        let on = |json| Against {
            resp: &r,
            json,
            enums: None,
            captures: &captures,
            scope: &scope,
        };
        let used = json!({"name": "b", "detail": "exact words"});
        let j = expect_findings(&outcomes, &on(Some(&used)));
        assert_eq!(j.matched, Some(1));
        let checks: Vec<(&str, String)> = j
            .findings
            .iter()
            .map(|f| (f.check, f.message.clone()))
            .collect();
        assert_eq!(
            checks,
            vec![("expect.preferred", "took one of two values".to_owned())]
        );
        let worded = json!({"name": "a", "detail": "other words"});
        let j = expect_findings(&outcomes, &on(Some(&worded)));
        assert_eq!(
            j.matched,
            Some(1),
            "a SHOULD matcher does not rule the outcome out"
        );
        assert_eq!(j.findings.len(), 2);
        assert!(
            j.findings
                .iter()
                .all(|f| f.severity == crate::spec::Severity::Should)
        );
        let neither = json!({"name": "a,b", "detail": "exact words"});
        let j = expect_findings(&outcomes, &on(Some(&neither)));
        assert_eq!(
            j.matched, None,
            "a value that is neither of those sent fails"
        );
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
        assert_eq!(
            outcome_findings(&o, &on),
            Ok(Vec::new()),
            "the case of an enum word is a SHOULD, checked elsewhere"
        );
        let body = json!({"token_status": "ACTIVE", "name": "abc"});
        let on = Against {
            json: Some(&body),
            ..on
        };
        assert_eq!(
            outcome_findings(&o, &on).map_err(|f| f.len()),
            Err(1),
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
        assert_eq!(outcome_findings(&o, &on), Ok(Vec::new()));
        let bad = json!({"last_used_at": "2020-01-01T00:00:00Z", "name": "y", "secret": 1, "maybe": 3, "created_at": "2026-01-01T00:00:00Z"});
        let on = Against {
            json: Some(&bad),
            ..on
        };
        let f = outcome_findings(&o, &on).expect_err("five matchers fail");
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
