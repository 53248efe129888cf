//! `methods`: every documented path answers every other method (GET, HEAD, PUT, PATCH,
//! DELETE, OPTIONS) without a server error; 405 is preferred (OPTIONS may also describe the
//! path with a 2xx). The contract documents nothing else of these answers, so nothing else is
//! judged.

use serde_json::json;

use super::{Gen, Probe};

const METHODS: &[&str] = &["GET", "HEAD", "PUT", "PATCH", "DELETE", "OPTIONS"];

pub(super) fn probes(g: &Gen<'_>, out: &mut Vec<Probe>) {
    for op in g.spec.operations.values() {
        let documented: Vec<&str> = g
            .spec
            .operations
            .values()
            .filter(|o| o.path == op.path)
            .map(|o| o.method.as_str())
            .collect();
        // One probe set per path: the operation first in operationId order speaks for it.
        let first = g.spec.operations.values().find(|o| o.path == op.path);
        if first.is_some_and(|f| f.id != op.id) {
            continue;
        }
        for method in METHODS.iter().filter(|m| !documented.contains(m)) {
            let preferred: Vec<u16> = if *method == "OPTIONS" {
                vec![405, 200, 204]
            } else {
                vec![405]
            };
            out.push(Probe {
                family: "methods",
                operation: op.id.clone(),
                variant: method.to_lowercase(),
                title: format!("{method} {} is answered without a server error (405 preferred)", op.path),
                requirement: format!(
                    "Another method on an operation's path is never a 5xx; 405 is the SHOULD ({})",
                    op.path
                ),
                severity: "must",
                needs: Vec::new(),
                steps: vec![json!({
                    "name": format!("{method} {}", op.path),
                    "call": op.id,
                    "method": method,
                    "content_type": "",
                    "raw_body": "",
                    "expect": {"one_of": [
                        {"status": preferred},
                        {"warn": format!("{method} {} was not answered 405 (Method Not Allowed)", op.path)},
                    ]},
                })],
            });
        }
    }
}
