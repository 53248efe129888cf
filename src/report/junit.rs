//! JUnit XML: one `<testcase>` per case; failures carry the check id and message, skipped cases
//! their reason, and warnings show in `<system-out>` (JUnit has no warning state).

use std::fmt::Write as _;

use crate::run::{RunReport, Verdict};

use super::redact::Redactor;

/// Escapes text for XML attributes and content.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            // XML 1.0 forbids most control characters even escaped.
            c if (c as u32) < 0x20 && !matches!(c, '\n' | '\r' | '\t') => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

/// The report as JUnit XML.
pub fn render(report: &RunReport, redactor: &Redactor) -> String {
    let s = report.summary();
    let mut x = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let secs = report.millis as f64 / 1000.0;
    let _ = writeln!(
        x,
        "<testsuites name=\"token-conformance\" tests=\"{}\" failures=\"{}\" errors=\"0\" skipped=\"{}\" time=\"{secs:.3}\">",
        report.cases.len(),
        s.failed,
        s.skipped
    );
    let _ = writeln!(
        x,
        "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{}\" errors=\"0\" skipped=\"{}\" time=\"{secs:.3}\" timestamp=\"{}\">",
        escape(&redactor.text(&report.target)),
        report.cases.len(),
        s.failed,
        s.skipped,
        // JUnit's schema wants a timestamp without fraction or offset (it is UTC).
        escape(report.started_at.get(..19).unwrap_or(&report.started_at))
    );
    let _ = writeln!(x, "    <properties>");
    for (k, v) in [
        (
            "contract",
            format!("{} {}", report.spec_title, report.spec_version),
        ),
        ("harness", report.harness_version.clone()),
        ("target", redactor.text(&report.target)),
    ] {
        let _ = writeln!(x, "      <property name=\"{k}\" value=\"{}\"/>", escape(&v));
    }
    let _ = writeln!(x, "    </properties>");
    for c in &report.cases {
        // The area (the id's first part) groups cases the way the cases/ folders do.
        let classname = c.id.split_once('.').map_or(c.id.as_str(), |(area, _)| area);
        let _ = write!(
            x,
            "    <testcase name=\"{}\" classname=\"{}\" file=\"{}\" time=\"{:.3}\">",
            escape(&c.id),
            escape(classname),
            escape(&c.file),
            c.millis as f64 / 1000.0
        );
        let mut body = String::new();
        match c.verdict {
            Verdict::Skipped => {
                let _ = write!(
                    body,
                    "\n      <skipped message=\"{}\"/>",
                    escape(c.skip_reason.as_deref().unwrap_or("skipped"))
                );
            }
            Verdict::Failed => {
                let must: Vec<_> = c
                    .steps
                    .iter()
                    .flat_map(|s| s.findings.iter().map(move |f| (s, f)))
                    .filter(|(_, f)| f.severity == crate::case::Severity::Must)
                    .collect();
                if let Some((step, first)) = must.first() {
                    let mut text = String::new();
                    for (s, f) in &must {
                        let _ = writeln!(
                            text,
                            "{} [{}] {}",
                            s.label,
                            f.check,
                            redactor.text(&f.message)
                        );
                        if let (Some(e), Some(a)) = (&f.expected, &f.actual) {
                            let _ = writeln!(
                                text,
                                "  expected: {}\n  actual:   {}",
                                redactor.text(e),
                                redactor.text(a)
                            );
                        }
                    }
                    let _ = write!(
                        body,
                        "\n      <failure type=\"{}\" message=\"{}\">{}</failure>",
                        escape(first.check),
                        escape(&format!(
                            "{}: [{}] {}",
                            step.label,
                            first.check,
                            redactor.text(&first.message)
                        )),
                        escape(&text)
                    );
                }
            }
            Verdict::Passed | Verdict::Warned => {}
        }
        let warnings: Vec<String> = c
            .steps
            .iter()
            .flat_map(|s| {
                s.findings
                    .iter()
                    .filter(|f| f.severity == crate::case::Severity::Should)
                    .map(move |f| format!("WARNING {} [{}] {}", s.label, f.check, f.message))
            })
            .collect();
        if !warnings.is_empty() {
            let _ = write!(
                body,
                "\n      <system-out>{}</system-out>",
                escape(&redactor.text(&warnings.join("\n")))
            );
        }
        if body.is_empty() {
            let _ = writeln!(x, "</testcase>");
        } else {
            let _ = writeln!(x, "{body}\n    </testcase>");
        }
    }
    let _ = writeln!(x, "  </testsuite>\n</testsuites>");
    x
}
