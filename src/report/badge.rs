//! A flat two-part badge (the shields.io style) of a run: "token-auth conformance | 52/52 MUST ·
//! 2 warnings", made here without any network. Green when the run conforms (with warnings, unless
//! `--strict`), amber when warnings fail a strict run or some MUST cases did not run, red when a
//! case failed. Its `<title>` carries the date and the contract's version.

use crate::run::{Body, Conformance, Report, plural};

/// The badge's left part.
pub(crate) const LABEL: &str = "token-auth conformance";

/// Green, amber and red, as shields.io draws them.
const GREEN: &str = "#4c1";
const AMBER: &str = "#dfb317";
const RED: &str = "#e05d44";

/// The right part and its colour. Traffic never shows that a target conforms: its badge
/// says how many judged exchanges the target failed, green only when none.
pub fn message(report: &Report, strict: bool) -> (String, &'static str) {
    let report = match &report.body {
        Body::Suite(s) => s,
        Body::Traffic(t) => {
            let c = &t.counts;
            let color = if c.failing > 0 || (strict && c.server_findings > 0) {
                RED
            } else {
                GREEN
            };
            return (
                format!("traffic · {} of {} failing", c.failing, c.judged),
                color,
            );
        }
    };
    let (passed, total) = report.must_counts();
    let must = format!("{passed}/{total} MUST");
    match report.conformance() {
        Conformance::DoesNotConform { failed } => {
            (format!("{must} · {} failed", plural(failed, "case")), RED)
        }
        Conformance::Incomplete { .. } => {
            (format!("{must} · {} not run", report.not_run.len()), AMBER)
        }
        Conformance::Conforms { warnings: 0 } => (must, GREEN),
        Conformance::Conforms { warnings } => (
            format!("{must} · {}", plural(warnings, "warning")),
            if strict { AMBER } else { GREEN },
        ),
    }
}

/// The width of `text` in 11 px Verdana, near enough to centre it (shields.io measures the
/// same font; these are its widths, rounded, for the characters a badge holds).
fn width(text: &str) -> f64 {
    text.chars()
        .map(|c| match c {
            'i' | 'l' | 'j' | '.' | ',' | ':' | ';' | '\'' | '|' | '!' => 3.5,
            ' ' | '·' | 'f' | 't' | 'r' | 'I' | '(' | ')' | '/' | '-' => 4.5,
            'm' | 'w' | 'M' | 'W' => 10.0,
            'A'..='Z' => 7.5,
            '0'..='9' => 7.0,
            _ => 6.5,
        })
        .sum()
}

/// XML's five escapes.
fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&apos;")
}

/// The badge of `report`, dated by `ended_at` (RFC 3339).
pub fn render(report: &Report, strict: bool, ended_at: &str) -> String {
    let (msg, color) = message(report, strict);
    let date = ended_at.get(..10).unwrap_or(ended_at);
    let meta = &report.meta;
    let title = format!(
        "{LABEL}: {msg} — {} {} against {}, {date}",
        meta.spec_title, meta.spec_version, meta.target
    );
    // Whole pixels, with 10 px of padding each side of each part.
    let lw = (width(LABEL) + 20.0).round();
    let mw = (width(&msg) + 20.0).round();
    let total = lw + mw;
    let (label, msg, title) = (escape(LABEL), escape(&msg), escape(&title));
    let (lx, mx) = (lw / 2.0, lw + mw / 2.0);
    format!(
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="{total}" height="20" role="img" aria-label="{label}: {msg}">
<title>{title}</title>
<linearGradient id="s" x2="0" y2="100%"><stop offset="0" stop-color="#bbb" stop-opacity=".1"/><stop offset="1" stop-opacity=".1"/></linearGradient>
<clipPath id="r"><rect width="{total}" height="20" rx="3" fill="#fff"/></clipPath>
<g clip-path="url(#r)"><rect width="{lw}" height="20" fill="#555"/><rect x="{lw}" width="{mw}" height="20" fill="{color}"/><rect width="{total}" height="20" fill="url(#s)"/></g>
<g fill="#fff" text-anchor="middle" font-family="Verdana,Geneva,DejaVu Sans,sans-serif" text-rendering="geometricPrecision" font-size="11">
<text x="{lx}" y="15" fill="#010101" fill-opacity=".3">{label}</text><text x="{lx}" y="14">{label}</text>
<text x="{mx}" y="15" fill="#010101" fill-opacity=".3">{msg}</text><text x="{mx}" y="14">{msg}</text>
</g>
</svg>
"##
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_escaped_and_wider_text_is_wider() {
        assert_eq!(
            escape(r#"<a & "b">'"#),
            "&lt;a &amp; &quot;b&quot;&gt;&apos;"
        );
        assert!(width("52/52 MUST · 2 warnings") > width("52/52 MUST"));
        assert!(width("MMMM") > width("iiii"));
    }
}
