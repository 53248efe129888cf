//! Content codings of a response body (`Content-Encoding`), undone as real clients undo them.
//!
//! A server may compress an answer with gzip although the request named no `Accept-Encoding`
//! (RFC 9110 §12.5.3), and every real client decodes it (requests, httpx, browsers). Judging
//! the coded bytes as "not JSON" would fail a conformant server, so the run and the proxy judge
//! the decoded body. Decoding stops at a size cap: a small coded body must not become a huge one.

use std::io::Read;

/// Why a coded body could not be decoded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CodingError {
    /// The bytes are not in the coding the header names.
    Corrupt(String, String),
    /// Decoded, the body is over the cap.
    TooLarge(usize),
}

impl std::fmt::Display for CodingError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Corrupt(c, why) => write!(f, "the body is not valid `{c}`: {why}"),
            Self::TooLarge(n) => write!(f, "the decoded body is larger than {n} bytes"),
        }
    }
}

/// The codings `Content-Encoding` lists, in the order they were applied.
fn codings(header: &str) -> Vec<String> {
    header
        .split(',')
        .map(|c| c.trim().to_ascii_lowercase())
        .filter(|c| !c.is_empty() && c != "identity")
        .collect()
}

/// Reads `r` to the end, or fails past `cap` bytes.
fn read_capped(mut r: impl Read, coding: &str, cap: usize) -> Result<Vec<u8>, CodingError> {
    let mut out = Vec::new();
    let limit = u64::try_from(cap).unwrap_or(u64::MAX).saturating_add(1);
    r.by_ref()
        .take(limit)
        .read_to_end(&mut out)
        .map_err(|e| CodingError::Corrupt(coding.to_owned(), e.to_string()))?;
    if out.len() > cap {
        return Err(CodingError::TooLarge(cap));
    }
    Ok(out)
}

/// One coding undone.
fn undo(coding: &str, body: &[u8], cap: usize) -> Result<Vec<u8>, CodingError> {
    match coding {
        "gzip" | "x-gzip" => read_capped(flate2::read::MultiGzDecoder::new(body), coding, cap),
        // "deflate" is zlib (RFC 9110 §8.4.1.2), but some servers send the raw stream, and
        // clients take both.
        "deflate" => match read_capped(flate2::read::ZlibDecoder::new(body), coding, cap) {
            Err(CodingError::Corrupt(..)) => {
                read_capped(flate2::read::DeflateDecoder::new(body), coding, cap)
            }
            other => other,
        },
        "br" => read_capped(
            brotli_decompressor::Decompressor::new(body, 4096),
            coding,
            cap,
        ),
        // `decode` passes bodies in other codings through before they get here.
        _ => Ok(body.to_vec()),
    }
}

/// The codings this module undoes.
const KNOWN: &[&str] = &["gzip", "x-gzip", "deflate", "br"];

/// The first coding of `content_encoding` that is not undone here (`zstd`, or a value that
/// names no coding at all), if any.
pub fn unknown(content_encoding: Option<&str>) -> Option<String> {
    codings(content_encoding?)
        .into_iter()
        .find(|c| !KNOWN.contains(&c.as_str()))
}

/// The body with the codings of `content_encoding` undone (none: the body as it is), at most
/// `cap` bytes. A coding not undone here leaves the body as it came, as Python's requests
/// leaves it: a header that names no coding (`none`) over plain JSON reads as JSON, and a body
/// really in a coding no client decodes fails as not JSON, which is what such a client sees.
pub fn decode(
    content_encoding: Option<&str>,
    body: Vec<u8>,
    cap: usize,
) -> Result<Vec<u8>, CodingError> {
    if unknown(content_encoding).is_some() {
        return Ok(body);
    }
    // No body is no body, whatever the header says: a HEAD's answer names the coding its GET
    // would have, and a 204 or 304 has nothing to decode.
    let Some(header) = content_encoding.filter(|_| !body.is_empty()) else {
        return Ok(body);
    };
    let mut body = body;
    // Undone in the reverse order of their application.
    for coding in codings(header).iter().rev() {
        body = undo(coding, &body, cap)?;
    }
    Ok(body)
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    fn gzip(bytes: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(bytes).expect("in memory");
        e.finish().expect("in memory")
    }

    #[test]
    fn gzip_deflate_and_their_stack_are_undone() {
        let json = br#"{"detail":"ok"}"#.to_vec();
        assert_eq!(decode(Some("gzip"), gzip(&json), 1024), Ok(json.clone()));
        assert_eq!(decode(Some("X-GZIP"), gzip(&json), 1024), Ok(json.clone()));
        let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
        z.write_all(&json).expect("in memory");
        let zlib = z.finish().expect("in memory");
        assert_eq!(decode(Some("deflate"), zlib, 1024), Ok(json.clone()));
        let mut d = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
        d.write_all(&json).expect("in memory");
        assert_eq!(
            decode(Some("deflate"), d.finish().expect("in memory"), 1024),
            Ok(json.clone())
        );
        let twice = gzip(&gzip(&json));
        assert_eq!(decode(Some("gzip, gzip"), twice, 1024), Ok(json.clone()));
        assert_eq!(
            decode(Some("identity"), json.clone(), 1024),
            Ok(json.clone())
        );
        assert_eq!(decode(None, json.clone(), 1024), Ok(json));
        // A HEAD's answer names its GET's coding and has no body.
        assert_eq!(decode(Some("gzip"), Vec::new(), 1024), Ok(Vec::new()));
    }

    #[test]
    fn brotli_is_undone() {
        // `{"a":1}` compressed by brotli at quality 0 (python3 -c "import brotli; ...").
        let br = [
            0x0b, 0x03, 0x80, 0x7b, 0x22, 0x61, 0x22, 0x3a, 0x31, 0x7d, 0x03,
        ];
        assert_eq!(
            decode(Some("br"), br.to_vec(), 1024),
            Ok(br#"{"a":1}"#.to_vec())
        );
    }

    #[test]
    fn bombs_and_corrupt_bodies_are_errors_and_unknown_codings_pass() {
        let zeros = gzip(&vec![0u8; 100_000]);
        assert_eq!(
            decode(Some("gzip"), zeros, 4096),
            Err(CodingError::TooLarge(4096))
        );
        assert!(matches!(
            decode(Some("gzip"), b"not gzip".to_vec(), 4096),
            Err(CodingError::Corrupt(..))
        ));
        // A coding no client here decodes passes through, as requests passes it.
        assert_eq!(decode(Some("zstd"), b"x".to_vec(), 4096), Ok(b"x".to_vec()));
        assert_eq!(
            decode(Some("none"), b"{}".to_vec(), 4096),
            Ok(b"{}".to_vec())
        );
        assert_eq!(unknown(Some("gzip, zstd")), Some("zstd".into()));
        assert_eq!(unknown(Some("gzip")), None);
        let z = {
            use std::io::Write as _;
            let mut e = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
            e.write_all(&vec![0u8; 100_000]).expect("in memory");
            e.finish().expect("in memory")
        };
        assert_eq!(
            decode(Some("deflate"), z, 4096),
            Err(CodingError::TooLarge(4096))
        );
    }
}
