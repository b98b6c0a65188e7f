//! The client and how one call travels: base URL and path, credentials, `Idempotency-Key`,
//! retries of transient failures (with the same key), rate-limit headers, error decoding.

use crate::auth::{AuthHeader, Credentials, Secret};
use crate::error::{Error, Result};
use reqwest::header::{HeaderMap, HeaderValue};
use reqwest::{Method, StatusCode};
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::hash::{BuildHasher, Hasher};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use url::Url;

const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
const DEFAULT_MAX_RETRIES: u32 = 2;
/// The longest `Retry-After` the client waits out by itself; longer ones are the caller's call.
const DEFAULT_MAX_RETRY_WAIT: Duration = Duration::from_secs(5);
const FIRST_BACKOFF: Duration = Duration::from_millis(100);

/// A client of the AEX public API, through the gateway. Cheap to clone (one shared connection
/// pool and token cache).
///
/// ```no_run
/// use aex_client::Client;
/// use std::time::Duration;
///
/// # fn demo() -> aex_client::Result<()> {
/// let client = Client::builder("http://127.0.0.1:8080")
///     .api_key(std::env::var("AEX_API_KEY").unwrap_or_default())
///     .exchange_for_token() // send the key once, then a JWT renewed before it expires
///     .timeout(Duration::from_secs(10))
///     .user_agent("billing-bot/1.2")
///     .build()?;
/// # let _ = client;
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct Client {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    http: reqwest::Client,
    base: Url,
    pub(crate) credentials: Credentials,
    max_retries: u32,
    max_retry_wait: Duration,
    last_rate_limit: Mutex<Option<RateLimit>>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("base_url", &self.inner.base.as_str())
            .field("credentials", &self.inner.credentials)
            .finish_non_exhaustive()
    }
}

impl Client {
    /// Starts configuring a client of the gateway at `base_url` (e.g. `http://127.0.0.1:8080`).
    pub fn builder(base_url: impl AsRef<str>) -> ClientBuilder {
        ClientBuilder {
            base_url: base_url.as_ref().to_string(),
            credentials: Credentials::None,
            exchange: false,
            timeout: DEFAULT_TIMEOUT,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            user_agent: concat!("aex-client/", env!("CARGO_PKG_VERSION")).to_string(),
            max_retries: DEFAULT_MAX_RETRIES,
            max_retry_wait: DEFAULT_MAX_RETRY_WAIT,
        }
    }

    /// The gateway's base URL.
    pub fn base_url(&self) -> &Url {
        &self.inner.base
    }

    /// The `X-RateLimit-*` headers of the latest answer that carried them (every `/v1` answer
    /// through the gateway does).
    pub fn last_rate_limit(&self) -> Option<RateLimit> {
        self.inner.last_rate_limit.lock().map(|guard| *guard).unwrap_or(None)
    }

    fn record_rate_limit(&self, headers: &HeaderMap) {
        if let Some(limit) = RateLimit::from_headers(headers)
            && let Ok(mut guard) = self.inner.last_rate_limit.lock()
        {
            *guard = Some(limit);
        }
    }
}

/// Configures a [`Client`]; see [`Client::builder`].
#[derive(Debug)]
#[must_use]
pub struct ClientBuilder {
    base_url: String,
    credentials: Credentials,
    exchange: bool,
    timeout: Duration,
    connect_timeout: Duration,
    user_agent: String,
    max_retries: u32,
    max_retry_wait: Duration,
}

impl ClientBuilder {
    /// Authenticate with an API key (`aexk_…`), sent as `X-API-Key`.
    pub fn api_key(mut self, key: impl Into<String>) -> Self {
        self.credentials = Credentials::ApiKey(Secret::new(key));
        self
    }

    /// Authenticate with a bearer token (a JWT from `POST /v1/auth/token`, or an API key).
    pub fn bearer_token(mut self, token: impl Into<String>) -> Self {
        self.credentials = Credentials::Bearer(Secret::new(token));
        self
    }

    /// With an [`api_key`](Self::api_key): exchange it once for a short-lived JWT and send that
    /// instead, exchanging again a fifth of its lifetime before it expires (or when the
    /// gateway refuses it). The key then travels only to `/v1/auth/token`.
    pub fn exchange_for_token(mut self) -> Self {
        self.exchange = true;
        self
    }

    /// Whole-request timeout (default 30 s).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Connection timeout (default 5 s).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// The `User-Agent` (default `aex-client/<version>`).
    pub fn user_agent(mut self, user_agent: impl Into<String>) -> Self {
        self.user_agent = user_agent.into();
        self
    }

    /// How often a transient failure is retried (default 2): transport errors, 408, 502, 504,
    /// and 429, 503 and 409 `REQUEST_IN_PROGRESS` whose `Retry-After` is short. Mutating calls are retried with the same
    /// `Idempotency-Key`, so a retry never doubles an effect. `0` turns retries off.
    pub fn max_retries(mut self, retries: u32) -> Self {
        self.max_retries = retries;
        self
    }

    /// The longest `Retry-After` the client waits out before retrying (default 5 s); a longer
    /// one comes back as the error, with [`Error::retry_after`] set.
    pub fn max_retry_wait(mut self, wait: Duration) -> Self {
        self.max_retry_wait = wait;
        self
    }

    /// Builds the client; fails on a base URL that is not absolute http(s) or an empty credential.
    pub fn build(self) -> Result<Client> {
        let mut base = Url::parse(&self.base_url)
            .map_err(|e| Error::InvalidInput(format!("base URL {:?}: {e}", self.base_url)))?;
        if !matches!(base.scheme(), "http" | "https") || base.cannot_be_a_base() {
            return Err(Error::InvalidInput(format!("base URL {:?} must be an http(s) URL", self.base_url)));
        }
        base.set_query(None);
        base.set_fragment(None);
        let credentials = match self.credentials {
            Credentials::ApiKey(key) | Credentials::Bearer(key) if key.expose().trim().is_empty() => {
                return Err(Error::InvalidInput("the credential is empty".to_string()));
            }
            Credentials::ApiKey(api_key) if self.exchange => {
                Credentials::Exchanged { api_key, cached: tokio::sync::Mutex::new(None) }
            }
            _ if self.exchange => {
                return Err(Error::InvalidInput("exchange_for_token needs an api_key".to_string()));
            }
            other => other,
        };
        let http = reqwest::Client::builder()
            .timeout(self.timeout)
            .connect_timeout(self.connect_timeout)
            .user_agent(self.user_agent)
            .build()
            .map_err(|e| Error::InvalidInput(format!("HTTP client: {e}")))?;
        Ok(Client {
            inner: Arc::new(Inner {
                http,
                base,
                credentials,
                max_retries: self.max_retries,
                max_retry_wait: self.max_retry_wait,
                last_rate_limit: Mutex::new(None),
            }),
        })
    }
}

/// The tenant's rate-limit bucket as the gateway reported it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    /// Requests the bucket admits at once (`X-RateLimit-Limit`).
    pub limit: u64,
    /// Requests still admitted now (`X-RateLimit-Remaining`).
    pub remaining: u64,
    /// Until the bucket is full again (`X-RateLimit-Reset`, seconds).
    pub reset: Duration,
}

impl RateLimit {
    fn from_headers(headers: &HeaderMap) -> Option<RateLimit> {
        let number = |name: &str| headers.get(name)?.to_str().ok()?.trim().parse::<u64>().ok();
        Some(RateLimit {
            limit: number("x-ratelimit-limit")?,
            remaining: number("x-ratelimit-remaining")?,
            reset: Duration::from_secs(number("x-ratelimit-reset")?),
        })
    }
}

/// Per-call options: an `Idempotency-Key` of the caller's choosing, a request id, a timeout.
///
/// Without a key, each mutating call gets a fresh UUID v4 key, reused by the client's own
/// retries. Choose the key yourself to make a retry *after a restart* safe: the same key and
/// body return the original answer; the same key with a different body is refused with
/// `IDEMPOTENCY_KEY_REUSED`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RequestOptions {
    /// The `Idempotency-Key` header of mutating calls.
    pub idempotency_key: Option<String>,
    /// The `X-Request-ID` header, echoed in answers and error bodies.
    pub request_id: Option<String>,
    /// A timeout for this call instead of the client's.
    pub timeout: Option<Duration>,
    /// Send no `Idempotency-Key`: only for a call whose body carries its own unique id that
    /// the platform deduplicates by (a transfer's `id`). Such a call is then retried only when
    /// it never left.
    pub without_idempotency_key: bool,
}

impl RequestOptions {
    /// Options with this idempotency key.
    pub fn idempotency_key(key: impl Into<String>) -> Self {
        Self { idempotency_key: Some(key.into()), ..Self::default() }
    }

    /// These options with this request id.
    pub fn with_request_id(mut self, request_id: impl Into<String>) -> Self {
        self.request_id = Some(request_id.into());
        self
    }

    /// These options with this timeout.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }
}

/// When a failed attempt may be repeated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Retry {
    /// Reads, deletes, and writes the platform deduplicates by `Idempotency-Key`.
    Transient,
    /// Writes nothing deduplicates (the gateway's own: tenants, keys, tokens): only when the
    /// request never left (connection refused).
    IfNotSent,
}

/// One API call being put together.
pub(crate) struct Call<'a> {
    client: &'a Client,
    method: Method,
    url: Url,
    body: Option<Vec<u8>>,
    authenticated: bool,
    retry: Retry,
    options: RequestOptions,
}

impl<'a> Call<'a> {
    /// A call of `method` on the path made of `segments` (each percent-encoded as needed).
    pub(crate) fn new(client: &'a Client, method: Method, segments: &[&str]) -> Self {
        let mut url = client.inner.base.clone();
        if let Ok(mut path) = url.path_segments_mut() {
            path.pop_if_empty().extend(segments);
        }
        Self {
            client,
            method,
            url,
            body: None,
            authenticated: true,
            retry: Retry::Transient,
            options: Default::default(),
        }
    }

    /// Adds query parameters; `None` values are left out.
    pub(crate) fn query<V: ToString>(mut self, pairs: &[(&str, Option<V>)]) -> Self {
        let present: Vec<(&str, String)> =
            pairs.iter().filter_map(|(name, value)| value.as_ref().map(|v| (*name, v.to_string()))).collect();
        if !present.is_empty() {
            self.url.query_pairs_mut().extend_pairs(present);
        }
        self
    }

    /// The JSON body.
    pub(crate) fn json<B: Serialize + ?Sized>(mut self, body: &B) -> Result<Self> {
        let bytes = serde_json::to_vec(body).map_err(|e| Error::InvalidInput(format!("request body: {e}")))?;
        self.body = Some(bytes);
        Ok(self)
    }

    /// Sent without credentials (public routes, the token exchange).
    pub(crate) fn anonymous(mut self) -> Self {
        self.authenticated = false;
        self
    }

    pub(crate) fn retry(mut self, retry: Retry) -> Self {
        self.retry = retry;
        self
    }

    pub(crate) fn options(mut self, options: &RequestOptions) -> Self {
        self.options = options.clone();
        self
    }

    /// Sends the call and decodes a success answer as `T`.
    pub(crate) async fn send<T: DeserializeOwned>(self) -> Result<T> {
        let (status, body) = self.send_raw().await?;
        let body: &[u8] = if body.is_empty() { b"null" } else { &body };
        serde_json::from_slice(body).map_err(|source| Error::Decode { status: status.as_u16(), source })
    }

    /// Sends the call; the success answer's status and raw body.
    pub(crate) async fn send_raw(self) -> Result<(StatusCode, Vec<u8>)> {
        let mutating = !matches!(self.method, Method::GET | Method::HEAD);
        // One key for every attempt: a retry is the same request, not a new one.
        let idempotency_key = match (&self.options.idempotency_key, mutating) {
            _ if self.options.without_idempotency_key => None,
            (Some(key), _) => Some(key.clone()),
            (None, true) => Some(uuid::Uuid::new_v4().to_string()),
            (None, false) => None,
        };
        let retry = if mutating && idempotency_key.is_none() { Retry::IfNotSent } else { self.retry };
        let inner = &self.client.inner;
        let mut attempt = 0;
        let mut refreshed_token = false;
        loop {
            let mut request = inner.http.request(self.method.clone(), self.url.clone());
            if self.authenticated {
                request = match inner.credentials.header(self.client).await? {
                    Some(AuthHeader::ApiKey(key)) => request.header("x-api-key", header_value(key.expose())?),
                    Some(AuthHeader::Bearer(token)) => {
                        request.header("authorization", header_value(&format!("Bearer {}", token.expose()))?)
                    }
                    None => request,
                };
            }
            if let Some(key) = &idempotency_key {
                request = request.header("idempotency-key", header_value(key)?);
            }
            if let Some(id) = &self.options.request_id {
                request = request.header("x-request-id", header_value(id)?);
            }
            if let Some(timeout) = self.options.timeout {
                request = request.timeout(timeout);
            }
            if let Some(body) = &self.body {
                request = request.header("content-type", "application/json").body(body.clone());
            }

            let failure = match request.send().await {
                Ok(response) => {
                    let status = response.status();
                    let headers = response.headers().clone();
                    self.client.record_rate_limit(&headers);
                    let body = response.bytes().await.map_err(Error::Transport)?.to_vec();
                    if status.is_success() {
                        return Ok((status, body));
                    }
                    let request_id = headers.get("x-request-id").and_then(|v| v.to_str().ok()).map(str::to_string);
                    let error = Error::from_answer(status.as_u16(), request_id, retry_after(&headers), &body);
                    // An exchanged token the gateway refuses (expired early, secret rotated):
                    // exchange once more and repeat, whatever the retry budget. Gateways older
                    // than the UPPER_SNAKE codes say `invalid_token` (docs/api/errors.md).
                    if status == StatusCode::UNAUTHORIZED
                        && matches!(error.code(), Some("INVALID_TOKEN" | "invalid_token"))
                        && !refreshed_token
                        && inner.credentials.forget_token().await
                    {
                        refreshed_token = true;
                        continue;
                    }
                    error
                }
                Err(error) => {
                    let not_sent = error.is_connect();
                    let error = Error::Transport(error);
                    if retry == Retry::IfNotSent && !not_sent {
                        return Err(error);
                    }
                    error
                }
            };
            let wait = match self.retry_wait(&failure, attempt, retry) {
                Some(wait) => wait,
                None => return Err(failure),
            };
            tokio::time::sleep(wait).await;
            attempt += 1;
        }
    }

    /// How long to wait before attempt `attempt + 1`, or `None` to give up with this failure.
    fn retry_wait(&self, failure: &Error, attempt: u32, retry: Retry) -> Option<Duration> {
        let inner = &self.client.inner;
        if attempt >= inner.max_retries || !failure.is_transient() {
            return None;
        }
        if retry == Retry::IfNotSent && !matches!(failure, Error::Transport(_)) {
            return None;
        }
        match (failure.status(), failure.retry_after()) {
            (Some(409 | 429 | 503), Some(wait)) if wait > inner.max_retry_wait => None,
            (Some(409 | 429 | 503), Some(wait)) => Some(wait),
            // Exponential backoff with full jitter: 0..(100 ms · 2^attempt).
            _ => {
                let ceiling = FIRST_BACKOFF.saturating_mul(1 << attempt.min(10));
                let ceiling_ms = u64::try_from(ceiling.as_millis()).unwrap_or(u64::MAX).max(1);
                Some(Duration::from_millis(jitter() % ceiling_ms))
            }
        }
    }
}

fn header_value(value: &str) -> Result<HeaderValue> {
    HeaderValue::from_str(value)
        .map_err(|_| Error::InvalidInput("a header value holds characters HTTP cannot send".into()))
}

fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let seconds = headers.get("retry-after")?.to_str().ok()?.trim().parse::<u64>().ok()?;
    Some(Duration::from_secs(seconds))
}

/// A random number for backoff jitter, from the standard library's per-instance hash keys.
fn jitter() -> u64 {
    std::collections::hash_map::RandomState::new().build_hasher().finish()
}

/// Declares a resource handle: a borrowed client plus the [`RequestOptions`] of its calls.
macro_rules! resource {
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        #[derive(Debug, Clone)]
        pub struct $name<'a> {
            client: &'a $crate::Client,
            options: $crate::RequestOptions,
        }

        impl<'a> $name<'a> {
            pub(crate) fn new(client: &'a $crate::Client) -> Self {
                Self { client, options: $crate::RequestOptions::default() }
            }

            /// The options (idempotency key, request id, timeout) of the calls made through this handle.
            pub fn options(mut self, options: $crate::RequestOptions) -> Self {
                self.options = options;
                self
            }

            /// The `Idempotency-Key` of the mutating calls made through this handle, instead of a
            /// fresh one per call: repeating the call with the same key and body returns the
            /// original answer and has no second effect.
            pub fn idempotency_key(mut self, key: impl Into<String>) -> Self {
                self.options.idempotency_key = Some(key.into());
                self
            }

            #[allow(dead_code)]
            fn call(&self, method: reqwest::Method, segments: &[&str]) -> $crate::client::Call<'a> {
                $crate::client::Call::new(self.client, method, segments).options(&self.options)
            }
        }
    };
}
pub(crate) use resource;

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn paths_are_joined_to_the_base_and_encoded() {
        let client = Client::builder("http://127.0.0.1:8080/aex/").build().unwrap();
        let call = Call::new(&client, Method::GET, &["v1", "settlements", "a/b c"]);
        assert_eq!(call.url.as_str(), "http://127.0.0.1:8080/aex/v1/settlements/a%2Fb%20c");
        let call = Call::new(&client, Method::GET, &["v1", "work"]).query(&[("limit", Some(5)), ("offset", None)]);
        assert_eq!(call.url.as_str(), "http://127.0.0.1:8080/aex/v1/work?limit=5");
    }

    #[test]
    fn the_builder_refuses_what_cannot_work() {
        assert!(Client::builder("not a url").build().is_err());
        assert!(Client::builder("ftp://host").build().is_err());
        assert!(Client::builder("http://host").api_key(" ").build().is_err());
        assert!(Client::builder("http://host").bearer_token("t").exchange_for_token().build().is_err());
        let client = Client::builder("http://host").api_key("aexk_secret").exchange_for_token().build().unwrap();
        assert!(!format!("{client:?}").contains("aexk_secret"));
    }

    #[test]
    fn rate_limit_headers_are_read_together() {
        let mut headers = HeaderMap::new();
        headers.insert("x-ratelimit-limit", HeaderValue::from_static("50"));
        headers.insert("x-ratelimit-remaining", HeaderValue::from_static("49"));
        assert_eq!(RateLimit::from_headers(&headers), None);
        headers.insert("x-ratelimit-reset", HeaderValue::from_static("2"));
        assert_eq!(
            RateLimit::from_headers(&headers),
            Some(RateLimit { limit: 50, remaining: 49, reset: Duration::from_secs(2) })
        );
    }
}
