//! What a caller asks for: which downstream, and the request to send it.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, Method};
use serde::Serialize;
use url::Url;

use super::error::json_error_category;
use super::retry::IDEMPOTENCY_KEY;

/// A service this one calls: the name labels its circuit breaker, metrics and errors; the base
/// URL prefixes every path. Cheap to clone; build once at start-up.
///
/// ```
/// use aex_common::http_client::Downstream;
///
/// let certauth = Downstream::new("certauth", "http://certauth:8080".parse()?);
/// assert_eq!(certauth.name(), "certauth");
/// # Ok::<(), url::ParseError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Downstream {
    name: Arc<str>,
    base_url: Url,
}

impl Downstream {
    /// A downstream called `name` (a short, fixed service name: it is a metric label) at `base_url`.
    pub fn new(name: impl Into<Arc<str>>, base_url: Url) -> Self {
        Self { name: name.into(), base_url }
    }

    /// The downstream's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The URL paths are appended to.
    pub fn base_url(&self) -> &Url {
        &self.base_url
    }

    pub(crate) fn shared_name(&self) -> &Arc<str> {
        &self.name
    }

    /// `base_url` + `path` (which may carry a query string); a base path prefix is kept.
    pub(crate) fn url_for(&self, path: &str) -> Result<Url, url::ParseError> {
        let base = self.base_url.as_str().trim_end_matches('/');
        let separator = if path.starts_with('/') { "" } else { "/" };
        Url::parse(&format!("{base}{separator}{path}"))
    }
}

/// A request body, sent again unchanged on each retry.
#[derive(Clone)]
pub enum RequestBody {
    /// Raw bytes; set a `content-type` header yourself.
    Bytes(Bytes),
    /// A JSON document, sent with `content-type: application/json`.
    Json(serde_json::Value),
}

impl fmt::Debug for RequestBody {
    // Bodies may hold secrets: show their kind only.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Bytes(bytes) => write!(f, "Bytes(<{} bytes>)", bytes.len()),
            Self::Json(_) => f.write_str("Json(<redacted>)"),
        }
    }
}

/// One outbound request, built fluently:
///
/// ```
/// use std::time::Duration;
/// use aex_common::http_client::RequestSpec;
///
/// let spec = RequestSpec::post("/v1/certificates")
///     .json(&serde_json::json!({ "csr": "..." }))
///     .idempotency_key("7f0c9a52")
///     .bearer("token")
///     .timeout(Duration::from_secs(2));
/// assert!(spec.is_replayable());
/// ```
#[derive(Clone)]
pub struct RequestSpec {
    pub(crate) method: Method,
    pub(crate) path: String,
    pub(crate) body: Option<RequestBody>,
    pub(crate) headers: HeaderMap,
    pub(crate) bearer: Option<String>,
    pub(crate) timeout: Option<Duration>,
    pub(crate) idempotent: Option<bool>,
    /// A problem found while building (bad header, unserialisable body), reported by `call`.
    pub(crate) invalid: Option<String>,
}

impl RequestSpec {
    /// A request with `method` to `path` (relative to the downstream's base URL).
    pub fn new(method: Method, path: impl Into<String>) -> Self {
        Self {
            method,
            path: path.into(),
            body: None,
            headers: HeaderMap::new(),
            bearer: None,
            timeout: None,
            idempotent: None,
            invalid: None,
        }
    }

    /// A GET request.
    pub fn get(path: impl Into<String>) -> Self {
        Self::new(Method::GET, path)
    }

    /// A POST request (not retried unless marked idempotent).
    pub fn post(path: impl Into<String>) -> Self {
        Self::new(Method::POST, path)
    }

    /// A PUT request.
    pub fn put(path: impl Into<String>) -> Self {
        Self::new(Method::PUT, path)
    }

    /// A PATCH request (not retried unless marked idempotent).
    pub fn patch(path: impl Into<String>) -> Self {
        Self::new(Method::PATCH, path)
    }

    /// A DELETE request.
    pub fn delete(path: impl Into<String>) -> Self {
        Self::new(Method::DELETE, path)
    }

    /// Sets the body to `value` serialised as JSON; a serialisation failure surfaces from
    /// `call` as [`CallError::InvalidRequest`](super::CallError::InvalidRequest).
    pub fn json<T: Serialize + ?Sized>(mut self, value: &T) -> Self {
        match serde_json::to_value(value) {
            Ok(json) => self.body = Some(RequestBody::Json(json)),
            Err(error) => {
                self.invalid = Some(format!("body is not serialisable as JSON ({})", json_error_category(&error)))
            }
        }
        self
    }

    /// Sets the body.
    pub fn body(mut self, body: RequestBody) -> Self {
        self.body = Some(body);
        self
    }

    /// Adds a header (e.g. `x-request-id` to forward the current request id).
    pub fn header(mut self, name: HeaderName, value: HeaderValue) -> Self {
        self.headers.append(name, value);
        self
    }

    /// Adds all of `headers`.
    pub fn headers(mut self, headers: HeaderMap) -> Self {
        self.headers.extend(headers);
        self
    }

    /// Sends `Authorization: Bearer <token>` instead of the client's service token.
    pub fn bearer(mut self, token: impl Into<String>) -> Self {
        self.bearer = Some(token.into());
        self
    }

    /// Timeout of each attempt, instead of the configured `request_timeout`.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Declares whether the request may be sent more than once, overriding the method's default.
    pub fn idempotent(mut self, idempotent: bool) -> Self {
        self.idempotent = Some(idempotent);
        self
    }

    /// Sets `Idempotency-Key`, which also makes a POST or PATCH replayable.
    pub fn idempotency_key(mut self, key: &str) -> Self {
        match HeaderValue::from_str(key) {
            Ok(value) => {
                self.headers.insert(HeaderName::from_static(IDEMPOTENCY_KEY), value);
            }
            Err(_) => self.invalid = Some("idempotency key is not a valid header value".to_owned()),
        }
        self
    }

    /// The method.
    pub fn method(&self) -> &Method {
        &self.method
    }

    /// The path (and query).
    pub fn path(&self) -> &str {
        &self.path
    }

    /// Whether a failed attempt may be re-sent (see [`is_replayable`](super::retry::is_replayable)).
    pub fn is_replayable(&self) -> bool {
        super::retry::is_replayable(&self.method, &self.headers, self.idempotent)
    }
}

impl fmt::Debug for RequestSpec {
    // Never print the bearer token, header values or the body.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RequestSpec")
            .field("method", &self.method)
            .field("path", &self.path)
            .field("headers", &self.headers.keys().collect::<Vec<_>>())
            .field("body", &self.body)
            .field("bearer", &self.bearer.as_ref().map(|_| "***"))
            .field("timeout", &self.timeout)
            .field("idempotent", &self.idempotent)
            .finish()
    }
}
