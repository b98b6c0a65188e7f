//! Credentials: an API key sent as `X-API-Key`, a bearer token, or an API key exchanged once for
//! a short-lived JWT (`POST /v1/auth/token`) that the client refreshes before it expires.

use crate::client::{Call, Client, Retry};
use crate::error::{Error, Result};
use aex_types::TenantId;
use reqwest::Method;
use serde::{Deserialize, Deserializer, Serialize};
use std::fmt;
use std::time::{Duration, Instant};

/// A credential or other secret: `Debug` and `Display` print `***`; [`Secret::expose`] reads it.
#[derive(Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The secret itself; keep it out of logs.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> std::result::Result<Self, D::Error> {
        String::deserialize(deserializer).map(Secret)
    }
}

/// The answer of `POST /v1/auth/token`: a JWT for `Authorization: Bearer`.
#[derive(Debug, Clone, Deserialize)]
pub struct AccessToken {
    /// The JWT.
    pub access_token: Secret,
    /// Always `Bearer`.
    pub token_type: String,
    /// Seconds until the token expires.
    pub expires_in: u64,
    /// The tenant the key (and so the token) belongs to.
    pub tenant_id: TenantId,
    /// The key's scopes, carried by the token.
    pub scopes: Vec<String>,
}

#[derive(Serialize)]
struct TokenRequest<'a> {
    api_key: &'a str,
}

/// How requests authenticate.
pub(crate) enum Credentials {
    /// Public routes only.
    None,
    /// `X-API-Key: aexk_…` on every request.
    ApiKey(Secret),
    /// `Authorization: Bearer <token>` with a token the caller manages.
    Bearer(Secret),
    /// The key goes only to `/v1/auth/token`; requests carry the JWT it returns, renewed
    /// before it expires (one exchange at a time, however many calls wait for it).
    Exchanged { api_key: Secret, cached: tokio::sync::Mutex<Option<CachedToken>> },
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Credentials::None => "None",
            Credentials::ApiKey(_) => "ApiKey(***)",
            Credentials::Bearer(_) => "Bearer(***)",
            Credentials::Exchanged { .. } => "Exchanged(***)",
        })
    }
}

pub(crate) struct CachedToken {
    token: Secret,
    /// When to exchange again: a fifth of the lifetime (at least 10 s) before expiry.
    renew_at: Instant,
}

/// The header a request carries, if any.
pub(crate) enum AuthHeader {
    ApiKey(Secret),
    Bearer(Secret),
}

impl Credentials {
    /// The header for the next request, exchanging the API key first when needed.
    pub(crate) async fn header(&self, client: &Client) -> Result<Option<AuthHeader>> {
        match self {
            Credentials::None => Ok(None),
            Credentials::ApiKey(key) => Ok(Some(AuthHeader::ApiKey(key.clone()))),
            Credentials::Bearer(token) => Ok(Some(AuthHeader::Bearer(token.clone()))),
            Credentials::Exchanged { api_key, cached } => {
                let mut cached = cached.lock().await;
                if let Some(token) = cached.as_ref().filter(|t| Instant::now() < t.renew_at) {
                    return Ok(Some(AuthHeader::Bearer(token.token.clone())));
                }
                // Boxed: the exchange is itself a call, which asks for a header again.
                let issued = Box::pin(exchange(client, api_key.expose())).await?;
                let lifetime = Duration::from_secs(issued.expires_in);
                let margin = (lifetime / 5).max(Duration::from_secs(10)).min(lifetime);
                let token = issued.access_token;
                *cached = Some(CachedToken { token: token.clone(), renew_at: Instant::now() + lifetime - margin });
                Ok(Some(AuthHeader::Bearer(token)))
            }
        }
    }

    /// Drops a cached token the gateway refused, so the next call exchanges again.
    /// Returns whether there was one to drop.
    pub(crate) async fn forget_token(&self) -> bool {
        match self {
            Credentials::Exchanged { cached, .. } => cached.lock().await.take().is_some(),
            _ => false,
        }
    }

    fn api_key(&self) -> Option<&Secret> {
        match self {
            Credentials::ApiKey(key) | Credentials::Exchanged { api_key: key, .. } => Some(key),
            Credentials::None | Credentials::Bearer(_) => None,
        }
    }
}

/// `POST /v1/auth/token` with `api_key`, unauthenticated otherwise.
async fn exchange(client: &Client, api_key: &str) -> Result<AccessToken> {
    Call::new(client, Method::POST, &["v1", "auth", "token"])
        .json(&TokenRequest { api_key })?
        .anonymous()
        .retry(Retry::IfNotSent)
        .send()
        .await
}

/// Token exchange: `client.auth()`.
#[derive(Debug, Clone, Copy)]
pub struct Auth<'a> {
    client: &'a Client,
}

impl<'a> Auth<'a> {
    pub(crate) fn new(client: &'a Client) -> Self {
        Self { client }
    }

    /// Exchanges the client's API key for a short-lived JWT (`POST /v1/auth/token`).
    ///
    /// ```no_run
    /// # async fn demo() -> aex_client::Result<()> {
    /// let client = aex_client::Client::builder("http://127.0.0.1:8080").api_key("aexk_…").build()?;
    /// let token = client.auth().token().await?;
    /// let as_token = aex_client::Client::builder("http://127.0.0.1:8080")
    ///     .bearer_token(token.access_token.expose())
    ///     .build()?;
    /// # let _ = as_token;
    /// # Ok(())
    /// # }
    /// ```
    pub async fn token(&self) -> Result<AccessToken> {
        let key = self.client.inner.credentials.api_key().ok_or_else(|| {
            Error::InvalidInput("the client has no API key to exchange; use Auth::exchange".to_string())
        })?;
        exchange(self.client, key.expose()).await
    }

    /// Exchanges any API key for a JWT, whatever the client's own credentials.
    pub async fn exchange(&self, api_key: &str) -> Result<AccessToken> {
        exchange(self.client, api_key).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_never_print() {
        let secret = Secret::new("aexk_0123");
        assert_eq!(format!("{secret:?} {secret}"), "*** ***");
        assert_eq!(secret.expose(), "aexk_0123");
        assert_eq!(format!("{:?}", Credentials::ApiKey(secret)), "ApiKey(***)");
    }
}
