//! How a request proves who sends it, per connection: basic, bearer, an API-key header,
//! NTLM, or an OAuth 2.0 client-credentials token (see `oauth`). Secrets live in
//! [`Secret`], whose `Debug` never prints them.
//!
//! NTLM is a handshake rather than a header, so this module only builds and reads its
//! messages (through the `ntlmclient` crate); the sender runs the exchange.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;

use super::oauth::OAuthClient;

pub use crate::config::Secret;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Auth {
    #[default]
    None,
    Basic {
        user: String,
        password: Secret,
    },
    Bearer {
        token: Secret,
    },
    ApiKey {
        header: String,
        value: Secret,
    },
    Ntlm {
        user: String,
        password: Secret,
        domain: String,
    },
    /// A bearer token from the client's token endpoint, fetched and cached by the sender.
    OAuth2(std::sync::Arc<OAuthClient>),
}

impl Auth {
    /// The header this method sends on every request, if it is a plain header.
    pub fn header(&self) -> Option<(String, String)> {
        match self {
            Auth::None | Auth::Ntlm { .. } | Auth::OAuth2(_) => None,
            Auth::Basic { user, password } => Some((
                "authorization".into(),
                format!("Basic {}", B64.encode(format!("{user}:{}", password.0))),
            )),
            Auth::Bearer { token } => Some(("authorization".into(), format!("Bearer {}", token.0))),
            Auth::ApiKey { header, value } => Some((header.clone(), value.0.clone())),
        }
    }

    /// The header name whose value must be redacted wherever a request is stored.
    pub fn secret_header(&self) -> Option<&str> {
        match self {
            Auth::None => None,
            Auth::Basic { .. } | Auth::Bearer { .. } | Auth::Ntlm { .. } | Auth::OAuth2(_) => {
                Some("authorization")
            }
            Auth::ApiKey { header, .. } => Some(header),
        }
    }
}

/// The workstation name NTLM messages carry; servers log it, none check it.
const WORKSTATION: &str = "HOOKDESK";

/// `NTLM <base64>` for the first (negotiate, type 1) message.
pub fn ntlm_negotiate_header() -> Result<String, String> {
    let flags = ntlmclient::Flags::NEGOTIATE_UNICODE
        | ntlmclient::Flags::REQUEST_TARGET
        | ntlmclient::Flags::NEGOTIATE_NTLM
        | ntlmclient::Flags::NEGOTIATE_ALWAYS_SIGN
        | ntlmclient::Flags::NEGOTIATE_NTLM2_KEY
        | ntlmclient::Flags::NEGOTIATE_WORKSTATION_SUPPLIED;
    let msg = ntlmclient::Message::Negotiate(ntlmclient::NegotiateMessage {
        flags,
        supplied_domain: String::new(),
        supplied_workstation: WORKSTATION.to_owned(),
        os_version: Default::default(),
    });
    let bytes = msg
        .to_bytes()
        .map_err(|e| format!("cannot encode the NTLM negotiate message: {e:?}"))?;
    Ok(format!("NTLM {}", B64.encode(bytes)))
}

/// The challenge (type 2) from a `WWW-Authenticate: NTLM <base64>` value, if it is one.
pub fn ntlm_challenge(www_authenticate: &str) -> Option<ntlmclient::ChallengeMessage> {
    let token = www_authenticate.trim().strip_prefix("NTLM ")?.trim();
    let bytes = B64.decode(token).ok()?;
    match ntlmclient::Message::try_from(bytes.as_slice()).ok()? {
        ntlmclient::Message::Challenge(c) => Some(c),
        _ => None,
    }
}

/// `NTLM <base64>` for the authenticate (type 3) message answering `challenge` with an
/// NTLMv2 response.
pub fn ntlm_authenticate_header(
    challenge: &ntlmclient::ChallengeMessage,
    user: &str,
    password: &Secret,
    domain: &str,
) -> Result<String, String> {
    let target_info: Vec<u8> = challenge
        .target_information
        .iter()
        .flat_map(|entry| entry.to_bytes())
        .collect();
    let creds = ntlmclient::Credentials {
        username: user.to_owned(),
        password: password.0.clone(),
        domain: domain.to_owned(),
    };
    let response = ntlmclient::respond_challenge_ntlm_v2(
        challenge.challenge,
        &target_info,
        ntlmclient::get_ntlm_time(),
        &creds,
    );
    let flags = ntlmclient::Flags::NEGOTIATE_UNICODE | ntlmclient::Flags::NEGOTIATE_NTLM;
    let bytes = response
        .to_message(&creds, WORKSTATION, flags)
        .to_bytes()
        .map_err(|e| format!("cannot encode the NTLM authenticate message: {e:?}"))?;
    Ok(format!("NTLM {}", B64.encode(bytes)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_secrets() {
        let a = Auth::Ntlm {
            user: "svc".into(),
            password: Secret("hunter2".into()),
            domain: "CORP".into(),
        };
        let b = Auth::ApiKey {
            header: "X-Api-Key".into(),
            value: Secret("k-123".into()),
        };
        let text = format!("{a:?} {b:?}");
        assert!(
            !text.contains("hunter2") && !text.contains("k-123"),
            "{text}"
        );
    }

    #[test]
    fn basic_and_bearer_headers() {
        let basic = Auth::Basic {
            user: "Aladdin".into(),
            password: Secret("open sesame".into()),
        };
        assert_eq!(
            basic.header().unwrap().1,
            "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ=="
        );
        let bearer = Auth::Bearer {
            token: Secret("t0k".into()),
        };
        assert_eq!(
            bearer.header().unwrap(),
            ("authorization".into(), "Bearer t0k".into())
        );
        assert_eq!(Auth::None.header(), None);
    }

    #[test]
    fn negotiate_is_an_ntlmssp_type_1() {
        let h = ntlm_negotiate_header().unwrap();
        let bytes = B64.decode(h.strip_prefix("NTLM ").unwrap()).unwrap();
        assert_eq!(&bytes[..8], b"NTLMSSP\0");
        assert_eq!(u32::from_le_bytes(bytes[8..12].try_into().unwrap()), 1);
    }
}
