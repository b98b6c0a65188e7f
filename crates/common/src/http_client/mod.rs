//! The resilient HTTP client every service uses for outbound calls (ARCHITECTURE.md §9):
//! per-attempt timeout, retries with exponential backoff and jitter for replayable requests,
//! a circuit breaker per downstream that fails fast with [`CallError::CircuitOpen`], W3C trace
//! propagation, service-token injection, and metrics labelled by downstream.
//!
//! ```no_run
//! use std::sync::Arc;
//! use aex_common::http_client::{Downstream, HttpClient, HttpClientConfig, RequestSpec};
//!
//! # async fn example() -> Result<(), Box<dyn std::error::Error>> {
//! let client = HttpClient::new(&HttpClientConfig::default())?
//!     .with_token_provider(Arc::new(|| Some("service-token".to_owned())));
//! let certauth = Downstream::new("certauth", "http://certauth:8080".parse()?);
//!
//! let crl: serde_json::Value = client.get_json(&certauth, "/v1/crl").await?;
//! let answer = client
//!     .call(&certauth, RequestSpec::post("/v1/certificates").json(&crl).idempotency_key("k-1"))
//!     .await?
//!     .error_for_status()?;
//! # let _ = answer;
//! # Ok(())
//! # }
//! ```
//!
//! Any HTTP answer that is not retried further comes back as `Ok(Response)`, whatever its status;
//! `Response::error_for_status` turns a non-2xx one into [`CallError::Status`].

pub mod breaker;
mod config;
mod error;
mod instrumentation;
mod registry;
mod request;
mod response;
pub mod retry;

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::header::{AUTHORIZATION, CONTENT_TYPE};
use http::{HeaderMap, HeaderValue, Method};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tracing::Instrument;

pub use breaker::{BreakerSettings, BreakerState, CircuitBreaker};
pub use config::HttpClientConfig;
pub use error::{CallError, ClientBuildError};
pub use instrumentation::{BREAKER_OPEN, BREAKER_STATE, REQUEST_DURATION, REQUESTS_TOTAL};
pub use request::{Downstream, RequestBody, RequestSpec};
pub use response::Response;
pub use retry::{Backoff, BackoffJitter};

use error::transport_message;
use instrumentation::{Outcome, inject_trace_context, record_attempt, record_outcome};
use registry::Breakers;
use retry::{is_breaker_failure, is_retryable_status, retry_after};

/// Supplies the service's own token for calls that carry no per-call bearer; `None` sends none.
pub type TokenProvider = Arc<dyn Fn() -> Option<String> + Send + Sync>;

/// Outbound HTTP client: one connection pool and one breaker per downstream, shared by clones.
#[derive(Clone)]
pub struct HttpClient {
    shared: Arc<Shared>,
    token_provider: Option<TokenProvider>,
}

struct Shared {
    client: reqwest::Client,
    request_timeout: Duration,
    max_retries: u32,
    backoff: Backoff,
    breakers: Breakers,
}

impl std::fmt::Debug for HttpClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpClient")
            .field("request_timeout", &self.shared.request_timeout)
            .field("max_retries", &self.shared.max_retries)
            .field("backoff", &self.shared.backoff)
            .field("token_provider", &self.token_provider.is_some())
            .finish_non_exhaustive()
    }
}

/// What one attempt produced.
enum Attempt {
    Answered(Response),
    TimedOut,
    Failed(String),
}

/// What an attempt means for the breaker and for the retry loop.
struct Verdict {
    result: Result<Response, CallError>,
    breaker_failure: bool,
    retryable: bool,
    retry_after: Option<Duration>,
}

impl Attempt {
    /// Classifies the attempt and records its metrics.
    fn judge(self, name: &Arc<str>, timeout: Duration, elapsed: Duration) -> Verdict {
        let error = match self {
            Self::Answered(response) => {
                let status = response.status();
                tracing::Span::current().record("http.response.status_code", status.as_u16());
                record_attempt(name, Outcome::of_status(status), elapsed);
                return Verdict {
                    breaker_failure: is_breaker_failure(status),
                    retryable: is_retryable_status(status),
                    retry_after: retry_after(status, response.headers()),
                    result: Ok(response),
                };
            }
            Self::TimedOut => CallError::Timeout { downstream: name.clone(), timeout },
            Self::Failed(message) => CallError::Transport { downstream: name.clone(), message },
        };
        // Timeouts and transport errors: the downstream may be down, and the request may be re-sent.
        record_attempt(name, Outcome::TransportError, elapsed);
        Verdict { result: Err(error), breaker_failure: true, retryable: true, retry_after: None }
    }
}

impl HttpClient {
    /// Builds the client. Redirects are not followed: a service answering 3xx to another
    /// service is misconfigured, and following it could send the bearer token elsewhere.
    pub fn new(config: &HttpClientConfig) -> Result<Self, ClientBuildError> {
        config.validate().map_err(ClientBuildError::InvalidConfig)?;
        let client = reqwest::Client::builder()
            .connect_timeout(config.connect_timeout)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("aex-http-client/", env!("CARGO_PKG_VERSION")))
            .build()?;
        let shared = Shared {
            client,
            request_timeout: config.request_timeout,
            max_retries: config.max_retries,
            backoff: config.backoff(),
            breakers: Breakers::new(config.breaker_settings()),
        };
        Ok(Self { shared: Arc::new(shared), token_provider: None })
    }

    /// The same client (pool and breakers shared) sending `Authorization: Bearer <token>` from
    /// `provider` on every call that has no per-call bearer and no `Authorization` header.
    /// The provider is asked again on each retry, so a refreshed token is picked up.
    pub fn with_token_provider(mut self, provider: TokenProvider) -> Self {
        self.token_provider = Some(provider);
        self
    }

    /// The same client calling as the platform service `service`: each call without a bearer of
    /// its own carries a service token minted for it (no tenant, no scopes).
    pub fn as_service(self, tokens: crate::auth::ServiceTokens, service: &'static str) -> Self {
        self.with_token_provider(Arc::new(move || match tokens.mint(service, None, &[], None) {
            Ok(token) => Some(token),
            Err(error) => {
                tracing::error!(%error, service, "could not mint the service token");
                None
            }
        }))
    }

    /// The state of `downstream`'s breaker, or `None` before its first call.
    pub fn breaker_state(&self, downstream: &str) -> Option<BreakerState> {
        self.shared.breakers.state(downstream)
    }

    /// Sends `spec` to `downstream`, retrying as the module docs describe, and returns the
    /// final answer whatever its status.
    pub async fn call(&self, downstream: &Downstream, spec: RequestSpec) -> Result<Response, CallError> {
        // The client span is for exported traces; without them the request's own span and
        // the call's metrics say everything, and a span per call is not free.
        if !crate::trace_context::otel_owns_context() {
            return self.call_in_span(downstream, spec).await;
        }
        let span = tracing::info_span!(
            "http_client.call",
            otel.kind = "client",
            downstream = downstream.name(),
            http.request.method = %spec.method,
            http.response.status_code = tracing::field::Empty,
            attempts = tracing::field::Empty,
        );
        self.call_in_span(downstream, spec).instrument(span).await
    }

    /// GETs `path` and decodes a 2xx JSON answer; other statuses become [`CallError::Status`].
    pub async fn get_json<T: DeserializeOwned>(&self, downstream: &Downstream, path: &str) -> Result<T, CallError> {
        self.call(downstream, RequestSpec::get(path)).await?.error_for_status()?.json()
    }

    /// POSTs `body` as JSON to `path` and decodes a 2xx JSON answer. Never retried: use
    /// [`call`](Self::call) with [`RequestSpec::idempotency_key`] for a replayable POST.
    pub async fn post_json<B, T>(&self, downstream: &Downstream, path: &str, body: &B) -> Result<T, CallError>
    where
        B: Serialize + ?Sized,
        T: DeserializeOwned,
    {
        self.call(downstream, RequestSpec::post(path).json(body)).await?.error_for_status()?.json()
    }

    async fn call_in_span(&self, downstream: &Downstream, spec: RequestSpec) -> Result<Response, CallError> {
        let name = downstream.shared_name();
        let breaker = self.shared.breakers.get(name);
        let prepared = self.prepare(downstream, spec)?;
        let max_attempts = if prepared.replayable { self.shared.max_retries.saturating_add(1) } else { 1 };
        let mut last: Option<Result<Response, CallError>> = None;

        for attempt in 0..max_attempts {
            let guard = match breaker.acquire(Instant::now()) {
                Ok(guard) => guard,
                Err(open) => {
                    record_outcome(name, Outcome::CircuitOpen);
                    // Mid-retry, the real last answer tells the caller more than "open".
                    return last
                        .unwrap_or(Err(CallError::CircuitOpen { downstream: name.clone(), retry_in: open.retry_in }));
                }
            };
            let request = self.build_request(downstream, &prepared)?;
            let started = Instant::now();
            let attempt_outcome = self.send(name, request, prepared.timeout).await;
            let verdict = attempt_outcome.judge(name, prepared.timeout, started.elapsed());
            let state = if verdict.breaker_failure { guard.failed(Instant::now()) } else { guard.succeeded() };
            tracing::Span::current().record("attempts", attempt + 1);
            let Verdict { result, retryable, retry_after: asked_delay, .. } = verdict;

            let last_attempt = attempt + 1 >= max_attempts;
            if !retryable || last_attempt || state == BreakerState::Open {
                return result;
            }
            let delay = match asked_delay {
                // Waiting longer than our own cap is the caller's decision, not ours.
                Some(delay) if delay > self.shared.backoff.max => return result,
                Some(delay) => delay,
                None => self.shared.backoff.delay(attempt),
            };
            tracing::debug!(
                downstream = %name,
                attempt = attempt + 1,
                delay_ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX),
                reason = %retry_reason(&result),
                "retrying downstream call",
            );
            last = Some(result);
            tokio::time::sleep(delay).await;
        }
        // Unreachable: the loop runs at least once and its last iteration returns.
        last.unwrap_or(Err(CallError::invalid(name, "no attempt was made")))
    }

    /// Everything that stays the same across attempts, computed once.
    fn prepare(&self, downstream: &Downstream, spec: RequestSpec) -> Result<Prepared, CallError> {
        let name = downstream.shared_name();
        if let Some(reason) = spec.invalid {
            return Err(CallError::invalid(name, reason));
        }
        let url = downstream
            .url_for(&spec.path)
            .map_err(|error| CallError::invalid(name, format!("path does not form a valid URL ({error})")))?;
        let replayable = retry::is_replayable(&spec.method, &spec.headers, spec.idempotent);
        let mut headers = spec.headers;
        let body = match spec.body {
            None => None,
            Some(RequestBody::Bytes(bytes)) => Some(bytes),
            Some(RequestBody::Json(value)) => {
                let bytes = serde_json::to_vec(&value)
                    .map_err(|_| CallError::invalid(name, "body is not serialisable as JSON"))?;
                headers.entry(CONTENT_TYPE).or_insert(HeaderValue::from_static("application/json"));
                Some(Bytes::from(bytes))
            }
        };
        let bearer = match spec.bearer {
            Some(token) => Some(bearer_value(name, &token)?),
            None => None,
        };
        if let Some(value) = headers.get_mut(AUTHORIZATION) {
            value.set_sensitive(true);
        }
        inject_trace_context(&mut headers);
        let timeout = spec.timeout.unwrap_or(self.shared.request_timeout);
        Ok(Prepared { method: spec.method, url, headers, body, bearer, timeout, replayable })
    }

    fn build_request(&self, downstream: &Downstream, prepared: &Prepared) -> Result<reqwest::Request, CallError> {
        let mut request = reqwest::Request::new(prepared.method.clone(), prepared.url.clone());
        let mut headers = prepared.headers.clone();
        let authorization = match (&prepared.bearer, headers.contains_key(AUTHORIZATION)) {
            (Some(value), _) => Some(value.clone()),
            (None, true) => None,
            (None, false) => match self.token_provider.as_ref().and_then(|provider| provider()) {
                Some(token) => Some(bearer_value(downstream.shared_name(), &token)?),
                None => None,
            },
        };
        if let Some(value) = authorization {
            headers.insert(AUTHORIZATION, value);
        }
        *request.headers_mut() = headers;
        *request.body_mut() = prepared.body.clone().map(reqwest::Body::from);
        *request.timeout_mut() = Some(prepared.timeout);
        Ok(request)
    }

    async fn send(&self, name: &Arc<str>, request: reqwest::Request, timeout: Duration) -> Attempt {
        // The outer timeout also bounds reading the body, whatever reqwest's own covers.
        let exchange = async {
            let response = self.shared.client.execute(request).await?;
            let status = response.status();
            let headers = response.headers().clone();
            let body = response.bytes().await?;
            Ok::<_, reqwest::Error>(Response::new(name.clone(), status, headers, body))
        };
        match tokio::time::timeout(timeout, exchange).await {
            Err(_) => Attempt::TimedOut,
            Ok(Ok(response)) => Attempt::Answered(response),
            Ok(Err(error)) if error.is_timeout() => Attempt::TimedOut,
            Ok(Err(error)) => Attempt::Failed(transport_message(error)),
        }
    }
}

/// The per-call parts of a request, ready to be copied into each attempt.
struct Prepared {
    method: Method,
    url: url::Url,
    headers: HeaderMap,
    body: Option<Bytes>,
    bearer: Option<HeaderValue>,
    timeout: Duration,
    replayable: bool,
}

fn bearer_value(downstream: &Arc<str>, token: &str) -> Result<HeaderValue, CallError> {
    let mut value = HeaderValue::from_str(&format!("Bearer {token}"))
        .map_err(|_| CallError::invalid(downstream, "bearer token is not a valid header value"))?;
    value.set_sensitive(true);
    Ok(value)
}

fn retry_reason(result: &Result<Response, CallError>) -> String {
    match result {
        Ok(response) => response.status().to_string(),
        Err(error) => error.to_string(),
    }
}
