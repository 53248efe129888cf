//! Ed25519 keys in the PEM forms OpenSSL reads (PKCS#8 for the private key, SubjectPublicKeyInfo
//! for the public one), so that a customer can check a bundle's signature with `openssl pkeyutl`
//! as well as with `token-conformance verify`.
//!
//! Both forms are a fixed DER prefix followed by the 32 key bytes (RFC 8410), so they are written
//! and read here without an ASN.1 library; anything else is refused as malformed.

use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use ed25519_dalek::{SigningKey, VerifyingKey};
use sha2::{Digest as _, Sha256};

/// The file name of the private key `keygen` writes.
pub const PRIVATE_FILE: &str = "conformance.key";
/// The file name of the public key `keygen` writes.
pub const PUBLIC_FILE: &str = "conformance.pub";

/// PKCS#8 `PrivateKeyInfo` for Ed25519, up to the 32-byte seed (RFC 8410, section 7).
const PKCS8_PREFIX: [u8; 16] = [
    0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20,
];
/// `SubjectPublicKeyInfo` for Ed25519, up to the 32-byte key (RFC 8410, section 4).
const SPKI_PREFIX: [u8; 12] = [
    0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
];

/// A key file that could not be used, and why.
#[derive(Debug)]
pub struct KeyError {
    /// The file.
    pub path: PathBuf,
    /// What is wrong with it.
    pub message: String,
}

impl std::fmt::Display for KeyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.path.display(), self.message)
    }
}

impl std::error::Error for KeyError {}

fn key_error(path: &Path, message: impl Into<String>) -> KeyError {
    KeyError {
        path: path.to_owned(),
        message: message.into(),
    }
}

/// A new key pair from the operating system's random numbers.
pub fn generate() -> Result<SigningKey, getrandom::Error> {
    let mut seed = [0u8; 32];
    getrandom::fill(&mut seed)?;
    Ok(SigningKey::from_bytes(&seed))
}

fn pem(label: &str, der: &[u8]) -> String {
    format!(
        "-----BEGIN {label}-----\n{}\n-----END {label}-----\n",
        STANDARD.encode(der)
    )
}

/// The private key as PKCS#8 PEM.
fn private_pem(key: &SigningKey) -> String {
    let mut der = PKCS8_PREFIX.to_vec();
    der.extend_from_slice(key.as_bytes());
    pem("PRIVATE KEY", &der)
}

/// The public key as SubjectPublicKeyInfo PEM.
fn public_pem(key: &VerifyingKey) -> String {
    let mut der = SPKI_PREFIX.to_vec();
    der.extend_from_slice(key.as_bytes());
    pem("PUBLIC KEY", &der)
}

/// The 32 key bytes inside a PEM block of `label` whose DER starts with `prefix`.
fn key_bytes(text: &str, label: &str, prefix: &[u8], path: &Path) -> Result<[u8; 32], KeyError> {
    let begin = format!("-----BEGIN {label}-----");
    let end = format!("-----END {label}-----");
    let body = text
        .split_once(&begin)
        .and_then(|(_, rest)| rest.split_once(&end))
        .map(|(body, _)| body)
        .ok_or_else(|| key_error(path, format!("no `{begin}` block")))?;
    let b64: String = body.split_whitespace().collect();
    let der = STANDARD
        .decode(b64)
        .map_err(|e| key_error(path, format!("the PEM block is not base64: {e}")))?;
    der.strip_prefix(prefix)
        .and_then(|k| <[u8; 32]>::try_from(k).ok())
        .ok_or_else(|| key_error(path, "not an Ed25519 key (RFC 8410)"))
}

fn read(path: &Path) -> Result<String, KeyError> {
    std::fs::read_to_string(path).map_err(|e| key_error(path, format!("cannot read it: {e}")))
}

/// Reads a private key written by `private_pem` (or `openssl genpkey -algorithm ed25519`).
pub fn read_private(path: &Path) -> Result<SigningKey, KeyError> {
    let text = read(path)?;
    if text.contains("-----BEGIN PUBLIC KEY-----") {
        return Err(key_error(
            path,
            "this is a public key; signing needs the private one (conformance.key)",
        ));
    }
    let seed = key_bytes(&text, "PRIVATE KEY", &PKCS8_PREFIX, path)?;
    Ok(SigningKey::from_bytes(&seed))
}

/// Reads a public key written by [`write_pair`] (or `openssl pkey -pubout`).
pub fn read_public(path: &Path) -> Result<VerifyingKey, KeyError> {
    let text = read(path)?;
    let bytes = key_bytes(&text, "PUBLIC KEY", &SPKI_PREFIX, path)?;
    VerifyingKey::from_bytes(&bytes).map_err(|_| key_error(path, "not a valid Ed25519 point"))
}

/// A short, stable name for a public key: the first 16 hex digits of its SHA-256.
pub fn fingerprint(key: &VerifyingKey) -> String {
    let digest = Sha256::digest(key.as_bytes());
    hex(&digest[..8])
}

/// Lower-case hex.
pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

/// `keygen --out DIR`: writes a new key pair, the private key readable by its owner only.
/// Refuses to overwrite either file. Returns the paths written.
pub fn write_pair(dir: &Path) -> Result<(PathBuf, PathBuf), KeyError> {
    let (private, public) = (dir.join(PRIVATE_FILE), dir.join(PUBLIC_FILE));
    for p in [&private, &public] {
        if p.exists() {
            return Err(key_error(
                p,
                "exists; keygen never overwrites a key (remove it, or choose another --out)",
            ));
        }
    }
    std::fs::create_dir_all(dir)
        .map_err(|e| key_error(dir, format!("cannot create the directory: {e}")))?;
    let key = generate().map_err(|e| key_error(dir, format!("no random numbers: {e}")))?;
    write_new(&private, private_pem(&key).as_bytes(), 0o600)?;
    write_new(&public, public_pem(&key.verifying_key()).as_bytes(), 0o644)?;
    Ok((private, public))
}

/// Creates `path` (never replacing one), with `mode` on Unix from the start, so the private
/// key is never readable by others, not even for a moment.
fn write_new(path: &Path, bytes: &[u8], mode: u32) -> Result<(), KeyError> {
    use std::io::Write as _;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(mode);
    }
    #[cfg(not(unix))]
    let _ = mode;
    let mut f = options
        .open(path)
        .map_err(|e| key_error(path, format!("cannot create it: {e}")))?;
    f.write_all(bytes)
        .and_then(|()| f.sync_all())
        .map_err(|e| key_error(path, format!("cannot write it: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use ed25519_dalek::{Signer as _, Verifier as _};

    #[test]
    fn a_pair_written_is_read_back_and_signs_what_it_verifies() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (private, public) = write_pair(dir.path()).expect("keygen");
        let signing = read_private(&private).expect("private key");
        let verifying = read_public(&public).expect("public key");
        assert_eq!(signing.verifying_key(), verifying);
        let sig = signing.sign(b"manifest");
        assert!(verifying.verify(b"manifest", &sig).is_ok());
        assert!(verifying.verify(b"manifesT", &sig).is_err());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(&private)
                .expect("meta")
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600, "the private key is its owner's only");
        }
        let again = write_pair(dir.path()).expect_err("a second keygen into the same place");
        assert!(again.to_string().contains("conformance.key"), "{again}");
    }

    #[test]
    fn keys_of_another_kind_or_damaged_are_refused_with_the_file_named() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (private, public) = write_pair(dir.path()).expect("keygen");
        let e = read_private(&public).expect_err("a public key cannot sign");
        assert!(e.message.contains("public key"), "{e}");
        let e = read_public(&private).expect_err("a private key is not a public key");
        assert!(
            e.to_string().starts_with(
                &public
                    .with_file_name("conformance.key")
                    .display()
                    .to_string()
            ),
            "{e}"
        );
        // An RSA public key: another algorithm behind the same PEM label.
        let rsa = dir.path().join("rsa.pub");
        std::fs::write(
            &rsa,
            "-----BEGIN PUBLIC KEY-----\nMFwwDQYJKoZIhvcNAQEBBQADSwAwSAJBAMJ2H6wBrEhQMVSO6Zr6s6U5wVsd2Ev2\nKbOOwvZBhU1EYyK4nbpuQjUfXNWoFMwDz26IvsGJ2Q9dR+YAbDKIGl0CAwEAAQ==\n-----END PUBLIC KEY-----\n",
        )
        .expect("write");
        let e = read_public(&rsa).expect_err("RSA");
        assert!(e.message.contains("Ed25519"), "{e}");
        let garbage = dir.path().join("garbage.pub");
        std::fs::write(
            &garbage,
            "-----BEGIN PUBLIC KEY-----\n!!!\n-----END PUBLIC KEY-----\n",
        )
        .expect("write");
        assert!(
            read_public(&garbage)
                .expect_err("garbage")
                .message
                .contains("base64")
        );
        let e = read_public(&dir.path().join("absent.pub")).expect_err("absent");
        assert!(e.message.contains("cannot read"), "{e}");
    }

    /// RFC 8410's example key pair (sections 10.1 and 10.3), as `openssl genpkey` writes such
    /// keys: what is read and written here is what OpenSSL reads and writes.
    #[test]
    fn the_rfc_8410_example_pair_is_read_and_written_byte_for_byte() {
        let dir = tempfile::tempdir().expect("tempdir");
        let private_text = "-----BEGIN PRIVATE KEY-----\n\
                            MC4CAQAwBQYDK2VwBCIEINTuctv5E1hK1bbY8fdp+K06/nwoy/HU++CXqI9EdVhC\n\
                            -----END PRIVATE KEY-----\n";
        let public_text = "-----BEGIN PUBLIC KEY-----\n\
                           MCowBQYDK2VwAyEAGb9ECWmEzf6FQbrBZ9w7lshQhqowtrbLDFw4rXAxZuE=\n\
                           -----END PUBLIC KEY-----\n";
        let (p, q) = (dir.path().join("rfc.key"), dir.path().join("rfc.pub"));
        std::fs::write(&p, private_text).expect("write");
        std::fs::write(&q, public_text).expect("write");
        let signing = read_private(&p).expect("RFC private key");
        let verifying = read_public(&q).expect("RFC public key");
        assert_eq!(signing.verifying_key(), verifying, "the pair matches");
        assert_eq!(private_pem(&signing), private_text);
        assert_eq!(public_pem(&verifying), public_text);
    }

    #[test]
    fn fingerprints_are_short_and_differ_between_keys() {
        let a = generate().expect("key").verifying_key();
        let b = generate().expect("key").verifying_key();
        assert_eq!(fingerprint(&a).len(), 16);
        assert_eq!(fingerprint(&a), fingerprint(&a));
        assert_ne!(fingerprint(&a), fingerprint(&b));
    }
}
