//! A `multipart/form-data` parser for bodies already read whole (they are small: under the
//! body limit).
//!
//! It is lenient where real clients differ and strict only where the body cannot be split:
//! a field name is taken as sent between its quotes, raw UTF-8, control characters and all
//! (browsers send non-ASCII names raw, fuzzers send anything), so that an unknown field, which
//! the API ignores, can never make a request fail. What it refuses is a body with no boundary, a
//! part with no name, or a missing closing boundary.

use memchr::memmem;

/// One part: its field name, and its value as text, or `None` when it is not UTF-8.
pub(crate) type Part = (String, Option<String>);

/// The `boundary` parameter of a `multipart/form-data` content type, unquoted.
pub(crate) fn boundary(content_type: &str) -> Option<&str> {
    content_type.split(';').skip(1).find_map(|param| {
        let (key, value) = param.split_once('=')?;
        if !key.trim().eq_ignore_ascii_case("boundary") {
            return None;
        }
        let value = value.trim();
        let value = value
            .strip_prefix('"')
            .and_then(|v| v.strip_suffix('"'))
            .unwrap_or(value);
        // RFC 2046: 1 to 70 characters.
        (1..=70).contains(&value.len()).then_some(value)
    })
}

/// Splits `body` into its parts; the error says what is wrong, for a 400.
pub(crate) fn parse(body: &[u8], boundary: &str) -> Result<Vec<Part>, &'static str> {
    let delimiter = [b"--", boundary.as_bytes()].concat();
    // The first delimiter may open the body or follow a preamble and its line break.
    let mut at = if body.starts_with(&delimiter) {
        delimiter.len()
    } else {
        let crlf_delimiter = [b"\r\n", delimiter.as_slice()].concat();
        memmem::find(body, &crlf_delimiter).ok_or("no boundary found")? + crlf_delimiter.len()
    };
    let next = memmem::Finder::new(&[b"\r\n", delimiter.as_slice()].concat()).into_owned();
    let mut parts = Vec::new();
    loop {
        let rest = &body[at..];
        if rest.starts_with(b"--") {
            // A form with no fields is a form, whose fields are then missing.
            return Ok(parts);
        }
        // Transport padding, then the line break that ends the delimiter line.
        let padding = rest
            .iter()
            .take_while(|b| **b == b' ' || **b == b'\t')
            .count();
        let rest = rest[padding..]
            .strip_prefix(b"\r\n")
            .ok_or("a boundary line does not end in a line break")?;
        let end = next.find(rest).ok_or("the closing boundary is missing")?;
        parts.push(part(&rest[..end])?);
        at = body.len() - rest.len() + end + next.needle().len();
    }
}

/// One part's headers and content.
fn part(bytes: &[u8]) -> Result<Part, &'static str> {
    let (head, content) = if bytes.starts_with(b"\r\n") {
        (&[][..], &bytes[2..])
    } else {
        let split = memmem::find(bytes, b"\r\n\r\n").ok_or("a part's headers do not end")?;
        (&bytes[..split], &bytes[split + 4..])
    };
    let name = head
        .split(|b| *b == b'\n')
        .map(|line| line.strip_suffix(b"\r").unwrap_or(line))
        .find_map(disposition_name)
        .ok_or("a part has no name")?;
    Ok((name, String::from_utf8(content.to_vec()).ok()))
}

/// The `name` of a `Content-Disposition: form-data` header line, if the line is one.
fn disposition_name(line: &[u8]) -> Option<String> {
    let colon = line.iter().position(|b| *b == b':')?;
    if !line[..colon]
        .trim_ascii()
        .eq_ignore_ascii_case(b"content-disposition")
    {
        return None;
    }
    let value = &line[colon + 1..];
    // `name=` as a parameter, not the tail of `filename=`.
    let mut from = 0;
    let start = loop {
        let i = from + memmem::find(&value[from..], b"name=")?;
        let before = value[..i].trim_ascii_end();
        if before.ends_with(b";") {
            break i + b"name=".len();
        }
        from = i + 1;
    };
    let raw = &value[start..];
    let name = if let Some(quoted) = raw.strip_prefix(b"\"") {
        // Up to the closing quote; a backslash escapes the next byte.
        let mut name = Vec::new();
        let mut bytes = quoted.iter();
        while let Some(&b) = bytes.next() {
            match b {
                b'"' => break,
                b'\\' => name.extend(bytes.next()),
                _ => name.push(b),
            }
        }
        name
    } else {
        raw.iter()
            .take_while(|b| **b != b';')
            .copied()
            .collect::<Vec<u8>>()
            .trim_ascii()
            .to_vec()
    };
    Some(String::from_utf8_lossy(&name).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(parts: &[(&[u8], &[u8])]) -> Vec<u8> {
        let mut out = b"preamble\r\n".to_vec();
        for (name, value) in parts {
            out.extend_from_slice(b"--XyZ\r\nContent-Disposition: form-data; name=\"");
            out.extend_from_slice(name);
            out.extend_from_slice(b"\"\r\nContent-Type: text/plain\r\n\r\n");
            out.extend_from_slice(value);
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(b"--XyZ--\r\nepilogue");
        out
    }

    #[test]
    fn boundaries_quoted_or_not() {
        assert_eq!(boundary("multipart/form-data; boundary=abc"), Some("abc"));
        assert_eq!(
            boundary("multipart/form-data;Boundary=\"a b\""),
            Some("a b")
        );
        assert_eq!(boundary("multipart/form-data"), None);
        assert_eq!(boundary("multipart/form-data; boundary="), None);
    }

    #[test]
    fn fields_with_any_names_and_values() {
        let b = body(&[
            (b"user_id", b"7"),
            (b"7~\x05\t\x00", b"{}"),
            (b"caf\xc3\xa9", b"line one\r\nline two"),
            (b"bin", b"\xff\xfe"),
        ]);
        let parts = parse(&b, "XyZ").expect("parts");
        assert_eq!(
            parts,
            [
                ("user_id".to_owned(), Some("7".to_owned())),
                ("7~\u{5}\t\u{0}".to_owned(), Some("{}".to_owned())),
                ("café".to_owned(), Some("line one\r\nline two".to_owned())),
                ("bin".to_owned(), None),
            ]
        );
    }

    #[test]
    fn names_unquoted_escaped_and_beside_filename() {
        let b = b"--b\r\ncontent-disposition: form-data; filename=\"x\"; name=plain\r\n\r\n1\r\n\
                  --b\r\nContent-Disposition: form-data; name=\"a\\\"q\"\r\n\r\n2\r\n--b--";
        let parts = parse(b, "b").expect("parts");
        assert_eq!(parts[0].0, "plain");
        assert_eq!(parts[1].0, "a\"q");
    }

    #[test]
    fn an_empty_form_has_no_fields() {
        assert_eq!(parse(b"--b--\r\n", "b"), Ok(Vec::new()));
    }

    #[test]
    fn broken_bodies_say_what_is_wrong() {
        for (body, why) in [
            (&b""[..], "no boundary found"),
            (
                b"--b\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nvalue",
                "the closing boundary is missing",
            ),
            (
                b"--b\r\nContent-Type: text/plain\r\n\r\nv\r\n--b--",
                "a part has no name",
            ),
            (
                b"--bjunk\r\n\r\nv\r\n--b--",
                "a boundary line does not end in a line break",
            ),
            (
                b"--b\r\nContent-Disposition: form-data; name=a",
                "the closing boundary is missing",
            ),
        ] {
            assert_eq!(
                parse(body, "b"),
                Err(why),
                "{}",
                String::from_utf8_lossy(body)
            );
        }
    }
}
