//! Typed errors of the Pro Santé Connect client. Each maps to one stable API code in [`PscError::code`].

/// What went wrong during a PSC exchange.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PscError {
    /// PSC is not configured (no issuer / client id and no sandbox).
    #[error("Pro Santé Connect is not configured (psc.issuer, psc.client_id)")]
    NotConfigured,
    /// The provider could not be reached or answered an HTTP error.
    #[error("Pro Santé Connect unreachable: {0}")]
    Unavailable(String),
    /// The discovery document or the JWKS could not be read.
    #[error("Pro Santé Connect discovery at {url}: {message}")]
    Discovery {
        /// URL fetched.
        url: String,
        /// Why it was refused.
        message: String,
    },
    /// `return_to` is not in `psc.return_to_allow`.
    #[error("return_to {0:?} is not in psc.return_to_allow")]
    ReturnToRefused(String),
    /// The callback's `state` matches no login started by this browser (forged, replayed or expired).
    #[error(
        "state does not match a login started here (forged, replayed or older than the login timeout)"
    )]
    StateMismatch,
    /// The provider sent the user back with an error (`access_denied`…).
    #[error("the provider refused the login: {error}{}", description.as_deref().map(|d| format!(" ({d})")).unwrap_or_default())]
    ProviderRefused {
        /// OAuth error code.
        error: String,
        /// Its description.
        description: Option<String>,
    },
    /// The token endpoint refused the request.
    #[error("token request refused: {0}")]
    Token(String),
    /// No ID token in the token answer.
    #[error("the token answer holds no ID token")]
    MissingIdToken,
    /// The ID token's nonce is not the one sent.
    #[error("ID token nonce mismatch")]
    NonceMismatch,
    /// The ID token's signature does not verify (tampered, wrong key, wrong client secret for HS256).
    #[error("ID token signature invalid: {0}")]
    BadSignature(String),
    /// No key of the provider's JWKS matches the token's `kid` (key rotation: the JWKS is fetched again once).
    #[error("no key of the provider's JWKS matches the ID token")]
    UnknownKey,
    /// The ID token has expired.
    #[error("ID token expired: {0}")]
    Expired(String),
    /// Another ID token check failed (issuer, audience…).
    #[error("ID token refused: {0}")]
    IdToken(String),
    /// The authentication level is not the one required.
    #[error("authentication level {got:?} refused: {expected} required")]
    AcrRefused {
        /// `acr` received.
        got: Option<String>,
        /// `acr` required.
        expected: String,
    },
    /// UserInfo failed or did not verify.
    #[error("UserInfo: {0}")]
    UserInfo(String),
    /// No session with this handle.
    #[error("no such session")]
    SessionNotFound,
    /// The session passed its idle or absolute timeout (or its tokens could not be refreshed).
    #[error("session expired: {0}")]
    SessionExpired(&'static str),
    /// No CIBA request with this id.
    #[error("no such back-channel request")]
    CibaNotFound,
    /// The provider does not know the professional named by the CIBA `login_hint` (CIBA Core §13
    /// `unknown_user_id`): the caller's input is wrong, retrying will not help.
    #[error("the provider does not know this professional (login_hint): {0}")]
    CibaUnknownUser(String),
    /// The provider has no back-channel endpoint.
    #[error("the provider does not offer CIBA (no backchannel_authentication_endpoint)")]
    CibaUnsupported,
}

impl PscError {
    /// Stable API code.
    pub fn code(&self) -> &'static str {
        match self {
            PscError::NotConfigured => "psc.not_configured",
            PscError::Unavailable(_) => "psc.unavailable",
            PscError::Discovery { .. } => "psc.discovery",
            PscError::ReturnToRefused(_) => "psc.return_to_refused",
            PscError::StateMismatch => "psc.state_mismatch",
            PscError::ProviderRefused { .. } => "psc.provider_refused",
            PscError::Token(_) => "psc.token_refused",
            PscError::MissingIdToken => "psc.id_token_missing",
            PscError::NonceMismatch => "psc.nonce_mismatch",
            PscError::BadSignature(_) | PscError::UnknownKey => "psc.id_token_signature",
            PscError::Expired(_) => "psc.id_token_expired",
            PscError::IdToken(_) => "psc.id_token_invalid",
            PscError::AcrRefused { .. } => "psc.acr_refused",
            PscError::UserInfo(_) => "psc.userinfo",
            PscError::SessionNotFound => "psc.session_not_found",
            PscError::SessionExpired(_) => "psc.session_expired",
            PscError::CibaNotFound => "psc.ciba_not_found",
            PscError::CibaUnknownUser(_) => "psc.ciba_unknown_user",
            PscError::CibaUnsupported => "psc.ciba_unsupported",
        }
    }

    /// True when retrying later may succeed.
    pub fn is_transient(&self) -> bool {
        matches!(self, PscError::Unavailable(_) | PscError::Discovery { .. })
    }
}

/// Maps an ID token verification failure to the precise variant.
pub(crate) fn from_claims_error(e: openidconnect::ClaimsVerificationError) -> PscError {
    use openidconnect::ClaimsVerificationError as C;
    match e {
        C::InvalidNonce(_) => PscError::NonceMismatch,
        C::Expired(m) => PscError::Expired(m),
        C::SignatureVerification(openidconnect::SignatureVerificationError::NoMatchingKey) => {
            PscError::UnknownKey
        }
        C::SignatureVerification(s) => PscError::BadSignature(s.to_string()),
        other => PscError::IdToken(other.to_string()),
    }
}
