//! Request signing, exactly as 3Commas verifies it (REFERENCE.md section 2), and the credentials
//! that sign. Owns the message format and both algorithms; keys never reach Debug or Display.
//!
//! The signed message is the request path including `/public/api`, then `?` and the query string
//! exactly as sent, or (for a JSON body) `?` and the body bytes exactly as sent.

use std::fmt;
use std::path::Path;

use base64::Engine;
use hmac::{Hmac, Mac};
use rsa::pkcs1::DecodeRsaPrivateKey;
use rsa::pkcs1v15::SigningKey;
use rsa::pkcs8::DecodePrivateKey;
use rsa::signature::{SignatureEncoding, Signer};
use secrecy::{ExposeSecret, SecretString};
use sha2::Sha256;

/// How requests are signed.
#[derive(Clone)]
pub enum Credentials {
    /// An API key with its HMAC secret.
    Hmac {
        api_key: SecretString,
        secret: SecretString,
    },
    /// A self-generated RSA key: 3Commas knows the public half and issued `api_key` for it.
    Rsa {
        api_key: SecretString,
        key: Box<SigningKey<Sha256>>,
    },
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Credentials::Hmac { .. } => f.write_str("Credentials::Hmac([redacted])"),
            Credentials::Rsa { .. } => f.write_str("Credentials::Rsa([redacted])"),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum CredentialsError {
    #[error("cannot read the RSA private key file {path}: {reason}")]
    KeyFile { path: String, reason: String },
    #[error("the RSA private key in {path} is not a PKCS#1 or PKCS#8 PEM key")]
    KeyFormat { path: String },
}

impl Credentials {
    pub fn hmac(api_key: impl Into<String>, secret: impl Into<String>) -> Self {
        Credentials::Hmac {
            api_key: SecretString::from(api_key.into()),
            secret: SecretString::from(secret.into()),
        }
    }

    /// Read an RSA private key (PKCS#1 or PKCS#8 PEM) from a file.
    pub fn rsa_from_file(
        api_key: impl Into<String>,
        path: &Path,
    ) -> Result<Self, CredentialsError> {
        let pem = std::fs::read_to_string(path).map_err(|e| CredentialsError::KeyFile {
            path: path.display().to_string(),
            reason: e.kind().to_string(),
        })?;
        Self::rsa_from_pem(api_key, &pem).map_err(|_| CredentialsError::KeyFormat {
            path: path.display().to_string(),
        })
    }

    pub fn rsa_from_pem(api_key: impl Into<String>, pem: &str) -> Result<Self, CredentialsError> {
        let key = rsa::RsaPrivateKey::from_pkcs1_pem(pem)
            .or_else(|_| rsa::RsaPrivateKey::from_pkcs8_pem(pem))
            .map_err(|_| CredentialsError::KeyFormat {
                path: "(inline key)".into(),
            })?;
        Ok(Credentials::Rsa {
            api_key: SecretString::from(api_key.into()),
            key: Box::new(SigningKey::<Sha256>::new(key)),
        })
    }

    pub fn api_key(&self) -> &str {
        match self {
            Credentials::Hmac { api_key, .. } | Credentials::Rsa { api_key, .. } => {
                api_key.expose_secret()
            }
        }
    }

    /// The message to sign for a request, in the form each kind of key is documented with: HMAC
    /// signs `path?body` for a JSON body (the HMAC docs' form; 3Commas.Net signs it too), RSA
    /// signs `path` and the body with no `?` (the RSA docs page's form, and py3cw's). A query
    /// is always `path?query`.
    pub fn request_message(&self, path: &str, query: Option<&str>, body: Option<&[u8]>) -> Vec<u8> {
        match (
            self,
            query.filter(|q| !q.is_empty()),
            body.filter(|b| !b.is_empty()),
        ) {
            (Credentials::Rsa { .. }, None, Some(b)) => {
                let mut m = path.as_bytes().to_vec();
                m.extend_from_slice(b);
                m
            }
            _ => message(path, query, body),
        }
    }

    /// The `Signature` header value for a message.
    pub fn sign(&self, message: &[u8]) -> String {
        match self {
            Credentials::Hmac { secret, .. } => {
                hmac_hex(secret.expose_secret().as_bytes(), message)
            }
            Credentials::Rsa { key, .. } => {
                let signature = key.sign(message);
                base64::engine::general_purpose::STANDARD.encode(signature.to_bytes())
            }
        }
    }
}

/// Lower-case hex HMAC-SHA256.
pub fn hmac_hex(secret: &[u8], message: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes any key length");
    mac.update(message);
    hex::encode(mac.finalize().into_bytes())
}

/// Whether `signature_hex` (either case) is the HMAC of `message`, compared in constant time.
pub fn hmac_verify(secret: &[u8], message: &[u8], signature_hex: &str) -> bool {
    let Ok(given) = hex::decode(signature_hex.trim()) else {
        return false;
    };
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes any key length");
    mac.update(message);
    mac.verify_slice(&given).is_ok()
}

/// The message botform signs: `path?query`, or `path?body` for a JSON body, or the bare path.
pub fn message(path: &str, query: Option<&str>, body: Option<&[u8]>) -> Vec<u8> {
    let mut m = path.as_bytes().to_vec();
    match (
        query.filter(|q| !q.is_empty()),
        body.filter(|b| !b.is_empty()),
    ) {
        (Some(q), _) => {
            m.push(b'?');
            m.extend_from_slice(q.as_bytes());
            if let Some(b) = body.filter(|b| !b.is_empty()) {
                m.extend_from_slice(b);
            }
        }
        (None, Some(b)) => {
            m.push(b'?');
            m.extend_from_slice(b);
        }
        (None, None) => {}
    }
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    const VECTORS: &str = include_str!("../../tests/fixtures/3commas/signature_test_vectors.json");
    const RSA_PEM: &str = include_str!("../../tests/fixtures/3commas/docs_example_rsa_private.pem");

    #[test]
    fn every_hmac_vector_reproduces() {
        let v: serde_json::Value = serde_json::from_str(VECTORS).unwrap();
        let secret = v["hmac_secret"].as_str().unwrap();
        let creds = Credentials::hmac(v["api_key"].as_str().unwrap(), secret);
        let vectors = v["hmac_vectors"].as_array().unwrap();
        assert!(vectors.len() >= 15);
        for vector in vectors {
            let message = vector["message"].as_str().unwrap();
            let expected = vector["signature"].as_str().unwrap();
            assert_eq!(creds.sign(message.as_bytes()), expected, "{message}");
            assert!(hmac_verify(
                secret.as_bytes(),
                message.as_bytes(),
                &expected.to_uppercase()
            ));
        }
        for vector in v["hmac_vectors_other_secret"].as_array().unwrap() {
            let creds = Credentials::hmac("k", vector["secret"].as_str().unwrap());
            assert_eq!(
                creds.sign(vector["message"].as_str().unwrap().as_bytes()),
                vector["signature"].as_str().unwrap()
            );
        }
    }

    #[test]
    fn every_rsa_vector_reproduces() {
        let v: serde_json::Value = serde_json::from_str(VECTORS).unwrap();
        let creds = Credentials::rsa_from_pem("key", RSA_PEM).unwrap();
        for vector in v["rsa_vectors"].as_array().unwrap() {
            let message = vector["message"].as_str().unwrap();
            assert_eq!(
                creds.sign(message.as_bytes()),
                vector["signature"].as_str().unwrap()
            );
        }
    }

    #[test]
    fn message_forms_match_the_reference() {
        let p = "/public/api/ver1/users/change_mode";
        assert_eq!(
            message(p, Some("mode=paper"), None),
            b"/public/api/ver1/users/change_mode?mode=paper"
        );
        assert_eq!(
            message(p, None, Some(br#"{"mode": "paper"}"#)),
            br#"/public/api/ver1/users/change_mode?{"mode": "paper"}"#
        );
        assert_eq!(message(p, None, None), p.as_bytes());
    }

    #[test]
    fn an_rsa_key_signs_a_json_body_as_the_rsa_docs_do() {
        // The docs' RSA vector is over `path` + body with no `?`: a request built by the client
        // for that body must carry exactly that signature.
        let v: serde_json::Value = serde_json::from_str(VECTORS).unwrap();
        let creds = Credentials::rsa_from_pem("key", RSA_PEM).unwrap();
        let vector = v["rsa_vectors"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["message"].as_str().unwrap().ends_with('}'))
            .unwrap();
        let body = br#"{"mode": "paper"}"#;
        let path = "/public/api/ver1/users/change_mode";
        let message = creds.request_message(path, None, Some(body));
        assert_eq!(creds.sign(&message), vector["signature"].as_str().unwrap());
        // HMAC keeps the `?` form its own docs print.
        let hmac = Credentials::hmac("k", "s");
        assert_eq!(
            hmac.request_message(path, None, Some(body)),
            message_with_mark(path, body)
        );
    }

    fn message_with_mark(path: &str, body: &[u8]) -> Vec<u8> {
        let mut m = format!("{path}?").into_bytes();
        m.extend_from_slice(body);
        m
    }

    #[test]
    fn credentials_never_print_their_secrets() {
        let creds = Credentials::hmac("my-key", "my-secret");
        let shown = format!("{creds:?}");
        assert!(!shown.contains("my-secret") && !shown.contains("my-key"));
    }
}
