//! The closed lists a connection chooses from, stored by code.

macro_rules! code_enum {
    ($(#[$m:meta])* $name:ident { $($v:ident => ($code:literal, $label:literal)),* $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
        pub enum $name { $(#[serde(rename = $code)] $v),* }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$v),*];
            pub fn code(self) -> &'static str {
                match self { $($name::$v => $code),* }
            }
            pub fn label(self) -> &'static str {
                match self { $($name::$v => $label),* }
            }
            pub fn parse(s: &str) -> Option<Self> {
                let s = s.trim();
                Self::ALL.iter().copied().find(|v| v.code().eq_ignore_ascii_case(s))
            }
            /// "a, b, c": for error messages.
            pub fn codes() -> String {
                Self::ALL.iter().map(|v| v.code()).collect::<Vec<_>>().join(", ")
            }
        }
    };
}

code_enum!(
    /// What is at the other end. Only documents the connection; presets choose the shape.
    AppType {
        Generic => ("generic", "Generic"),
        Slack => ("slack", "Slack"),
        Teams => ("teams", "Microsoft Teams"),
        RocketChat => ("rocketchat", "Rocket.Chat"),
        GoogleChat => ("googlechat", "Google Chat"),
        Hookdesk => ("hookdesk", "Remote Hookdesk"),
    }
);

code_enum!(
    Environment {
        Production => ("production", "Production"),
        Test => ("test", "Test"),
        Development => ("development", "Development"),
    }
);

code_enum!(
    /// How requests authenticate; each kind has at most one secret.
    AuthKind {
        None => ("none", "None"),
        Basic => ("basic", "Basic (user, password)"),
        Bearer => ("bearer", "Bearer token"),
        ApiKey => ("api_key", "API key header"),
        Ntlm => ("ntlm", "NTLM (user, password, domain)"),
        OAuth2 => ("oauth2", "OAuth 2.0 client credentials"),
    }
);

code_enum!(
    /// How an OAuth 2.0 client proves itself to its token endpoint (RFC 6749 §2.3.1).
    OAuthClientAuth {
        Basic => ("client_secret_basic", "HTTP Basic header (client_secret_basic)"),
        Post => ("client_secret_post", "In the request body (client_secret_post)"),
    }
);

impl OAuthClientAuth {
    pub fn for_sender(self) -> crate::delivery::ClientAuth {
        match self {
            OAuthClientAuth::Basic => crate::delivery::ClientAuth::Basic,
            OAuthClientAuth::Post => crate::delivery::ClientAuth::Post,
        }
    }
}

impl AuthKind {
    /// What this kind calls its secret, for labels and messages.
    pub fn secret_label(self) -> &'static str {
        match self {
            AuthKind::None => "secret",
            AuthKind::Basic | AuthKind::Ntlm => "password",
            AuthKind::Bearer => "token",
            AuthKind::ApiKey => "API key value",
            AuthKind::OAuth2 => "client secret",
        }
    }
    /// What this kind calls its user name: OAuth 2.0 clients have an id instead.
    pub fn username_label(self) -> &'static str {
        match self {
            AuthKind::OAuth2 => "client ID",
            _ => "user name",
        }
    }
    pub fn has_secret(self) -> bool {
        self != AuthKind::None
    }
    pub fn has_username(self) -> bool {
        matches!(self, AuthKind::Basic | AuthKind::Ntlm | AuthKind::OAuth2)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip() {
        for a in AppType::ALL {
            assert_eq!(AppType::parse(a.code()), Some(*a));
        }
        assert_eq!(AuthKind::parse("API_KEY"), Some(AuthKind::ApiKey));
        assert_eq!(Environment::parse("staging"), None);
    }
}
