//! Standard Webhooks signatures (<https://www.standardwebhooks.com/>): any receiver with a
//! Standard Webhooks library can verify what Hookdesk sends.
//!
//! `webhook-id` is the delivery's stable id — the same on every retry, so it doubles as the
//! receiver's idempotency key — and is sent even when no secret is configured.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::auth::Secret;

pub const HEADER_ID: &str = "webhook-id";
pub const HEADER_TIMESTAMP: &str = "webhook-timestamp";
pub const HEADER_SIGNATURE: &str = "webhook-signature";

/// The prefix of a Standard Webhooks symmetric secret.
const SECRET_PREFIX: &str = "whsec_";

/// The key bytes of a `whsec_…` secret (base64 after the prefix).
pub fn secret_key(secret: &Secret) -> Result<Vec<u8>, String> {
    let encoded = secret.0.strip_prefix(SECRET_PREFIX).unwrap_or(&secret.0);
    B64.decode(encoded.trim())
        .map_err(|_| "signing secret must be whsec_ followed by base64".to_owned())
}

/// A new random secret in the `whsec_` form (24 random bytes, as common libraries make).
pub fn generate_secret() -> Secret {
    let bytes: [u8; 24] = rand::random();
    Secret(format!("{SECRET_PREFIX}{}", B64.encode(bytes)))
}

/// `v1,<base64 HMAC-SHA256(key, "{id}.{timestamp}.{body}")>`.
pub fn sign(key: &[u8], id: &str, timestamp: i64, body: &[u8]) -> String {
    // HMAC accepts keys of any length, so `new_from_slice` cannot fail here.
    let mut mac = match Hmac::<Sha256>::new_from_slice(key) {
        Ok(m) => m,
        Err(_) => unreachable_hmac(),
    };
    mac.update(id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("v1,{}", B64.encode(mac.finalize().into_bytes()))
}

#[cold]
fn unreachable_hmac() -> ! {
    unreachable!("HMAC takes keys of any length")
}

/// The three headers for one attempt. With several active secrets (a rotation's grace
/// period) the signatures are space-separated, one per secret; secrets that are not valid
/// `whsec_` values are skipped (they are validated when saved).
pub fn headers(id: &str, timestamp: i64, body: &[u8], secrets: &[Secret]) -> Vec<(String, String)> {
    let mut out = vec![
        (HEADER_ID.to_owned(), id.to_owned()),
        (HEADER_TIMESTAMP.to_owned(), timestamp.to_string()),
    ];
    let signatures: Vec<String> = secrets
        .iter()
        .filter_map(|s| secret_key(s).ok())
        .map(|key| sign(&key, id, timestamp, body))
        .collect();
    if !signatures.is_empty() {
        out.push((HEADER_SIGNATURE.to_owned(), signatures.join(" ")));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    const ID: &str = "msg_p5jXN8AQM9LWM0D4loKWxJek";
    const TS: i64 = 1614265330;
    const BODY: &[u8] = br#"{"test": 2432232314}"#;

    #[test]
    fn published_vector() {
        let key = secret_key(&Secret(SECRET.into())).unwrap();
        assert_eq!(
            sign(&key, ID, TS, BODY),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        );
    }

    #[test]
    fn rotation_sends_one_signature_per_secret() {
        let other = generate_secret();
        let h = headers(ID, TS, BODY, &[Secret(SECRET.into()), other.clone()]);
        let sig = &h.iter().find(|(k, _)| k == HEADER_SIGNATURE).unwrap().1;
        let parts: Vec<&str> = sig.split(' ').collect();
        assert_eq!(parts.len(), 2);
        assert_eq!(parts[0], "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
        assert_eq!(parts[1], sign(&secret_key(&other).unwrap(), ID, TS, BODY));
    }

    #[test]
    fn id_and_timestamp_without_a_secret() {
        let h = headers(ID, TS, BODY, &[]);
        assert_eq!(
            h,
            vec![
                (HEADER_ID.to_owned(), ID.to_owned()),
                (HEADER_TIMESTAMP.to_owned(), TS.to_string())
            ]
        );
    }

    #[test]
    fn generated_secrets_decode_to_24_bytes() {
        let s = generate_secret();
        assert!(s.0.starts_with("whsec_"));
        assert_eq!(secret_key(&s).unwrap().len(), 24);
    }
}
