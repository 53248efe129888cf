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
    /// A coding this harness does not decode (nor do common clients without a plug-in).
    Unknown(String),
    /// The bytes are not in the coding the header names.
    Corrupt(String, String),
    /// Decoded, the body is over the cap.
    TooLarge(usize),
}

impl std::fmt::Display for CodingError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Unknown(c) => write!(
                f,
                "the body is in the content coding `{c}`, which clients do not decode (gzip, deflate and br are decoded)"
            ),
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
        "deflate" => read_capped(flate2::read::ZlibDecoder::new(body), coding, cap)
            .or_else(|_| read_capped(flate2::read::DeflateDecoder::new(body), coding, cap)),
        "br" => read_capped(
            brotli_decompressor::Decompressor::new(body, 4096),
            coding,
            cap,
        ),
        other => Err(CodingError::Unknown(other.to_owned())),
    }
}

/// The body with the codings of `content_encoding` undone (none: the body as it is), at most
/// `cap` bytes.
pub fn decode(
    content_encoding: Option<&str>,
    body: Vec<u8>,
    cap: usize,
) -> Result<Vec<u8>, CodingError> {
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
    fn bombs_corrupt_bodies_and_unknown_codings_are_errors() {
        let zeros = gzip(&vec![0u8; 100_000]);
        assert_eq!(
            decode(Some("gzip"), zeros, 4096),
            Err(CodingError::TooLarge(4096))
        );
        assert!(matches!(
            decode(Some("gzip"), b"not gzip".to_vec(), 4096),
            Err(CodingError::Corrupt(..))
        ));
        let e = decode(Some("zstd"), b"x".to_vec(), 4096).expect_err("zstd is not decoded");
        assert_eq!(e, CodingError::Unknown("zstd".into()));
        assert!(e.to_string().contains("zstd"));
    }
}
