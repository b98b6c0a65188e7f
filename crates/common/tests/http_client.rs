//! Tests of `aex_common::http_client`: the circuit breaker as a pure state machine with
//! synthetic time, then the real client against real HTTP servers on 127.0.0.1:0 whose
//! answers are scripted per test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aex_common::http_client::breaker::{Open, Permit};
use aex_common::http_client::{
    Backoff, BackoffJitter, BreakerSettings, BreakerState, CallError, CircuitBreaker, Downstream, HttpClient,
    HttpClientConfig, RequestSpec,
};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use axum::response::IntoResponse;
use clap::{CommandFactory, Parser};

// ---------------------------------------------------------------------------------------------
// Breaker state machine (synthetic time)
// ---------------------------------------------------------------------------------------------

const OPEN: Duration = Duration::from_secs(10);

fn exact_settings() -> BreakerSettings {
    BreakerSettings { jitter: 0.0, ..BreakerSettings::default() }
}

fn fail(breaker: &mut CircuitBreaker, now: Instant) -> BreakerState {
    let permit = breaker.try_acquire(now).expect("breaker should admit the attempt");
    breaker.record_failure(permit, now)
}

fn succeed(breaker: &mut CircuitBreaker, now: Instant) -> BreakerState {
    let permit = breaker.try_acquire(now).expect("breaker should admit the attempt");
    breaker.record_success(permit)
}

/// A breaker opened at `t0` with no jitter, so it half-opens at exactly `t0 + OPEN`.
fn opened_breaker(t0: Instant) -> CircuitBreaker {
    let mut breaker = CircuitBreaker::new(exact_settings());
    for _ in 0..5 {
        fail(&mut breaker, t0);
    }
    assert_eq!(breaker.state(), BreakerState::Open);
    breaker
}

#[test]
fn breaker_opens_after_exactly_five_consecutive_failures() {
    let t0 = Instant::now();
    let mut breaker = CircuitBreaker::new(exact_settings());
    for failure in 1..=4 {
        assert_eq!(fail(&mut breaker, t0), BreakerState::Closed, "failure {failure} must not open it");
    }
    assert_eq!(fail(&mut breaker, t0), BreakerState::Open);
    assert_eq!(breaker.try_acquire(t0).unwrap_err(), Open { retry_in: OPEN });
}

#[test]
fn breaker_success_resets_the_failure_count() {
    let t0 = Instant::now();
    let mut breaker = CircuitBreaker::new(exact_settings());
    for _ in 0..4 {
        fail(&mut breaker, t0);
    }
    assert_eq!(succeed(&mut breaker, t0), BreakerState::Closed);
    for failure in 1..=4 {
        assert_eq!(fail(&mut breaker, t0), BreakerState::Closed, "failure {failure} after the reset");
    }
    assert_eq!(fail(&mut breaker, t0), BreakerState::Open);
}

#[test]
fn breaker_fails_fast_while_open_then_half_opens_after_the_open_period() {
    let t0 = Instant::now();
    let mut breaker = opened_breaker(t0);

    let almost = t0 + OPEN - Duration::from_millis(1);
    assert_eq!(breaker.try_acquire(almost).unwrap_err(), Open { retry_in: Duration::from_millis(1) });
    assert_eq!(breaker.state(), BreakerState::Open);

    let probe = breaker.try_acquire(t0 + OPEN).expect("a probe is let through once the period is over");
    assert_eq!(breaker.state(), BreakerState::HalfOpen);
    breaker.release(probe);
}

#[test]
fn breaker_half_open_closes_only_after_three_successes() {
    let t0 = Instant::now();
    let mut breaker = opened_breaker(t0);
    let later = t0 + OPEN;
    assert_eq!(succeed(&mut breaker, later), BreakerState::HalfOpen);
    assert_eq!(succeed(&mut breaker, later), BreakerState::HalfOpen, "two successes must not close it");
    assert_eq!(succeed(&mut breaker, later), BreakerState::Closed);
    // Closed again with a fresh count: four failures do not reopen it.
    for _ in 0..4 {
        assert_eq!(fail(&mut breaker, later), BreakerState::Closed);
    }
}

#[test]
fn breaker_half_open_failure_reopens_for_a_fresh_period() {
    let t0 = Instant::now();
    let mut breaker = opened_breaker(t0);
    let later = t0 + OPEN + Duration::from_secs(1);
    succeed(&mut breaker, later);
    succeed(&mut breaker, later);
    assert_eq!(fail(&mut breaker, later), BreakerState::Open);
    assert_eq!(breaker.try_acquire(later).unwrap_err(), Open { retry_in: OPEN });
    assert!(breaker.try_acquire(later + OPEN).is_ok());
}

#[test]
fn breaker_half_open_admits_one_probe_at_a_time() {
    let t0 = Instant::now();
    let mut breaker = opened_breaker(t0);
    let later = t0 + OPEN;
    let probe = breaker.try_acquire(later).unwrap();
    assert_eq!(breaker.try_acquire(later).unwrap_err(), Open { retry_in: Duration::ZERO });
    // An abandoned probe (cancelled call) frees its slot without a verdict.
    breaker.release(probe);
    let probe = breaker.try_acquire(later).unwrap();
    assert_eq!(breaker.record_success(probe), BreakerState::HalfOpen);
    assert!(breaker.try_acquire(later).is_ok());
}

#[test]
fn breaker_ignores_results_of_attempts_admitted_before_it_opened() {
    let t0 = Instant::now();
    let mut breaker = CircuitBreaker::new(exact_settings());
    let slow: Vec<Permit> = (0..3).map(|_| breaker.try_acquire(t0).unwrap()).collect();
    for _ in 0..5 {
        fail(&mut breaker, t0);
    }
    let later = t0 + OPEN;
    let probe = breaker.try_acquire(later).unwrap();
    for permit in slow {
        assert_eq!(breaker.record_success(permit), BreakerState::HalfOpen, "a stale success is not a probe");
    }
    assert_eq!(breaker.try_acquire(later).unwrap_err(), Open { retry_in: Duration::ZERO });
    assert_eq!(breaker.record_success(probe), BreakerState::HalfOpen);
}

#[test]
fn breaker_open_durations_are_jittered_within_twenty_percent() {
    let settings = BreakerSettings::default();
    let (low, high) = (settings.open_duration * 8 / 10, settings.open_duration * 12 / 10);
    let mut breaker = CircuitBreaker::with_seed(settings, 7);
    let mut now = Instant::now();
    for _ in 0..5 {
        fail(&mut breaker, now);
    }
    let mut durations = Vec::new();
    for _ in 0..1000 {
        let retry_in = breaker.try_acquire(now).unwrap_err().retry_in;
        durations.push(retry_in);
        now += retry_in;
        // The probe fails, so the breaker reopens with a freshly drawn period.
        assert_eq!(fail(&mut breaker, now), BreakerState::Open);
    }
    assert!(durations.iter().all(|d| (low..=high).contains(d)), "every open period within [8 s, 12 s]");
    let (min, max) = (durations.iter().min().unwrap(), durations.iter().max().unwrap());
    assert!(max > min, "open periods must not all be equal");
    assert!(
        *min < Duration::from_secs(9) && *max > Duration::from_secs(11),
        "jitter spans the range: {min:?}..{max:?}"
    );
}

#[test]
fn backoff_ranges_double_up_to_the_cap() {
    let equal = Backoff { base: Duration::from_millis(50), max: Duration::from_secs(2), jitter: BackoffJitter::Equal };
    assert_eq!(equal.range(0), Duration::from_millis(25)..=Duration::from_millis(50));
    assert_eq!(equal.range(1), Duration::from_millis(50)..=Duration::from_millis(100));
    assert_eq!(equal.range(2), Duration::from_millis(100)..=Duration::from_millis(200));
    assert_eq!(equal.range(40), Duration::from_secs(1)..=Duration::from_secs(2));
    for retry in 0..8 {
        let range = equal.range(retry);
        assert!((0..200).all(|_| range.contains(&equal.delay(retry))));
    }
    let full = Backoff { jitter: BackoffJitter::Full, ..equal };
    assert_eq!(full.range(1), Duration::ZERO..=Duration::from_millis(100));
}

#[derive(Parser)]
struct ServiceConfig {
    #[command(flatten)]
    http: HttpClientConfig,
}

#[test]
fn config_defaults_match_the_architecture_and_parse_from_flags() {
    let parsed = ServiceConfig::try_parse_from(["svc"]).unwrap().http;
    assert_eq!(parsed, HttpClientConfig::default());
    assert_eq!(parsed.request_timeout, Duration::from_secs(5));
    assert_eq!(parsed.breaker_settings(), BreakerSettings::default());

    let custom = ServiceConfig::try_parse_from([
        "svc",
        "--http-max-retries=7",
        "--http-backoff-base=10ms",
        "--http-breaker-open-duration=2m",
        "--http-backoff-jitter=full",
        "--http-breaker-jitter=0.1",
    ])
    .unwrap()
    .http;
    assert_eq!(custom.max_retries, 7);
    assert_eq!(custom.backoff_base, Duration::from_millis(10));
    assert_eq!(custom.breaker_open_duration, Duration::from_secs(120));
    assert_eq!(custom.backoff_jitter, BackoffJitter::Full);
    assert_eq!(custom.breaker_jitter, 0.1);

    assert!(ServiceConfig::try_parse_from(["svc", "--http-breaker-jitter=1.5"]).is_err());
    assert!(ServiceConfig::try_parse_from(["svc", "--http-request-timeout=5"]).is_err());
    assert!(ServiceConfig::try_parse_from(["svc", "--http-breaker-failure-threshold=0"]).is_err());
    let help = ServiceConfig::command().render_long_help().to_string();
    for variable in ["AEX_HTTP_REQUEST_TIMEOUT", "AEX_HTTP_MAX_RETRIES", "AEX_HTTP_BREAKER_OPEN_DURATION"] {
        assert!(help.contains(variable), "--help lists {variable}");
    }
}

#[test]
fn client_rejects_out_of_range_settings_built_in_code() {
    let config = HttpClientConfig { breaker_failure_threshold: 0, ..HttpClientConfig::default() };
    assert!(HttpClient::new(&config).is_err());
}

// ---------------------------------------------------------------------------------------------
// A scripted HTTP server
// ---------------------------------------------------------------------------------------------

#[derive(Clone)]
struct Reply {
    status: u16,
    delay: Duration,
    headers: Vec<(&'static str, String)>,
    body: String,
}

fn reply(status: u16) -> Reply {
    Reply { status, delay: Duration::ZERO, headers: Vec::new(), body: String::new() }
}

impl Reply {
    fn header(mut self, name: &'static str, value: &str) -> Self {
        self.headers.push((name, value.to_owned()));
        self
    }

    fn body(mut self, body: &str) -> Self {
        self.body = body.to_owned();
        self
    }

    fn delay(mut self, delay: Duration) -> Self {
        self.delay = delay;
        self
    }
}

/// What the server saw of one request.
#[derive(Clone)]
struct Seen {
    at: Instant,
    method: Method,
    headers: HeaderMap,
    body: Bytes,
}

impl Seen {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|value| value.to_str().ok())
    }
}

struct Script {
    replies: Mutex<VecDeque<Reply>>,
    fallback: Reply,
    hits: AtomicUsize,
    seen: Mutex<Vec<Seen>>,
}

struct TestServer {
    base_url: url::Url,
    script: Arc<Script>,
}

impl TestServer {
    /// Answers with `replies` in order, then with `fallback` forever.
    async fn start(replies: impl IntoIterator<Item = Reply>, fallback: Reply) -> Self {
        let script = Arc::new(Script {
            replies: Mutex::new(replies.into_iter().collect()),
            fallback,
            hits: AtomicUsize::new(0),
            seen: Mutex::new(Vec::new()),
        });
        let app = axum::Router::new().fallback(scripted).with_state(script.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self { base_url: format!("http://{address}").parse().unwrap(), script }
    }

    fn downstream(&self, name: &str) -> Downstream {
        Downstream::new(name, self.base_url.clone())
    }

    fn hits(&self) -> usize {
        self.script.hits.load(Ordering::SeqCst)
    }

    fn seen(&self) -> Vec<Seen> {
        self.script.seen.lock().unwrap().clone()
    }

    /// Waits (bounded) until the server has seen `hits` requests.
    async fn wait_for_hits(&self, hits: usize) {
        let deadline = Instant::now() + Duration::from_secs(5);
        while self.hits() < hits && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
}

async fn scripted(
    State(script): State<Arc<Script>>,
    method: Method,
    headers: HeaderMap,
    body: Bytes,
) -> impl IntoResponse {
    script.seen.lock().unwrap().push(Seen { at: Instant::now(), method, headers, body });
    script.hits.fetch_add(1, Ordering::SeqCst);
    let next = script.replies.lock().unwrap().pop_front();
    let reply = next.unwrap_or_else(|| script.fallback.clone());
    if !reply.delay.is_zero() {
        tokio::time::sleep(reply.delay).await;
    }
    let mut response_headers = HeaderMap::new();
    for (name, value) in &reply.headers {
        response_headers.insert(HeaderName::from_static(name), HeaderValue::from_str(value).unwrap());
    }
    (StatusCode::from_u16(reply.status).unwrap(), response_headers, reply.body)
}

/// Small delays so the whole binary stays fast; the breaker stays out of the way (threshold 5,
/// and every test builds its own client, hence its own breakers).
fn test_config() -> HttpClientConfig {
    HttpClientConfig {
        request_timeout: Duration::from_secs(3),
        backoff_base: Duration::from_millis(20),
        backoff_max: Duration::from_millis(500),
        ..HttpClientConfig::default()
    }
}

fn client(config: &HttpClientConfig) -> HttpClient {
    let _already_installed = rustls::crypto::aws_lc_rs::default_provider().install_default();
    HttpClient::new(config).unwrap()
}

// ---------------------------------------------------------------------------------------------
// Retries
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn client_errors_are_returned_without_retry() {
    let client = client(&test_config());
    for status in [400, 401, 403, 404, 409, 422] {
        let server = TestServer::start([], reply(status)).await;
        let response = client.call(&server.downstream("ledger"), RequestSpec::get("/v1/things/1")).await.unwrap();
        assert_eq!(response.status().as_u16(), status);
        assert_eq!(server.hits(), 1, "{status} must not be retried");
    }
    assert_eq!(client.breaker_state("ledger"), Some(BreakerState::Closed), "4xx are successes for the breaker");
}

#[tokio::test]
async fn internal_server_error_is_not_retried() {
    let server = TestServer::start([], reply(500)).await;
    let client = client(&test_config());
    let response = client.call(&server.downstream("ledger"), RequestSpec::get("/v1/things")).await.unwrap();
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(server.hits(), 1);
}

#[tokio::test]
async fn service_unavailable_is_retried_up_to_the_limit_with_growing_delays() {
    let server = TestServer::start([], reply(503)).await;
    let config = test_config();
    let client = client(&config);

    let started = Instant::now();
    let response = client.call(&server.downstream("ledger"), RequestSpec::get("/v1/things")).await.unwrap();
    let elapsed = started.elapsed();

    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE, "the last answer is returned");
    assert_eq!(server.hits(), 1 + config.max_retries as usize);
    let arrivals: Vec<Instant> = server.seen().iter().map(|seen| seen.at).collect();
    let backoff = config.backoff();
    let mut minimum_total = Duration::ZERO;
    for (retry, pair) in arrivals.windows(2).enumerate() {
        let gap = pair[1] - pair[0];
        let minimum = *backoff.range(retry as u32).start();
        assert!(gap >= minimum, "gap before retry {retry} was {gap:?}, below its minimum {minimum:?}");
        minimum_total += minimum;
    }
    // With equal jitter each minimum is the previous retry's cap: 10 ms, 20 ms, 40 ms.
    assert_eq!(minimum_total, Duration::from_millis(70));
    assert!(elapsed >= minimum_total);
}

#[tokio::test]
async fn a_transient_failure_is_hidden_by_a_successful_retry() {
    let server = TestServer::start([reply(502), reply(504), reply(429)], reply(200).body("done")).await;
    let client = client(&test_config());
    let response = client.call(&server.downstream("ledger"), RequestSpec::get("/v1/things")).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.body().as_ref(), b"done");
    assert_eq!(server.hits(), 4);
}

#[tokio::test]
async fn post_is_resent_only_when_marked_idempotent() {
    let client = client(&test_config());
    // One downstream name per scenario: their failures must not add up in one breaker.

    let plain = TestServer::start([], reply(503)).await;
    let response = client.call(&plain.downstream("plain"), RequestSpec::post("/v1/transfers").json(&1)).await.unwrap();
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(plain.hits(), 1, "a POST without idempotency is never re-sent");

    let keyed = TestServer::start([], reply(503)).await;
    let spec = RequestSpec::post("/v1/transfers").json(&1).idempotency_key("transfer-42");
    client.call(&keyed.downstream("keyed"), spec).await.unwrap();
    assert_eq!(keyed.hits(), 4, "a POST with an Idempotency-Key is retried");
    assert!(keyed.seen().iter().all(|seen| seen.header("idempotency-key") == Some("transfer-42")));
    assert!(keyed.seen().iter().all(|seen| seen.method == Method::POST && seen.body.as_ref() == b"1"));

    let marked = TestServer::start([reply(503)], reply(201)).await;
    let spec = RequestSpec::patch("/v1/transfers/42").json(&2).idempotent(true);
    let response = client.call(&marked.downstream("marked"), spec).await.unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    assert_eq!(marked.hits(), 2);

    let unmarked_get = TestServer::start([], reply(503)).await;
    client.call(&unmarked_get.downstream("unmarked"), RequestSpec::get("/v1/x").idempotent(false)).await.unwrap();
    assert_eq!(unmarked_get.hits(), 1, "an explicit idempotent(false) disables retries");
}

#[tokio::test]
async fn retry_after_within_the_cap_is_honoured_and_beyond_it_ends_retries() {
    let config = HttpClientConfig {
        backoff_base: Duration::from_millis(1),
        backoff_max: Duration::from_secs(2),
        ..test_config()
    };
    let client = client(&config);

    let honoured = TestServer::start([reply(503).header("retry-after", "1")], reply(200)).await;
    let response = client.call(&honoured.downstream("ledger"), RequestSpec::get("/v1/x")).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let seen = honoured.seen();
    assert_eq!(seen.len(), 2);
    assert!(seen[1].at - seen[0].at >= Duration::from_secs(1), "waited for Retry-After, not the 1 ms backoff");

    let too_long = TestServer::start([], reply(429).header("retry-after", "30")).await;
    let response = client.call(&too_long.downstream("ledger"), RequestSpec::get("/v1/x")).await.unwrap();
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(response.headers().get("retry-after").unwrap(), "30");
    assert_eq!(too_long.hits(), 1);
}

#[tokio::test]
async fn connection_refused_is_retried_for_get() {
    let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = closed.local_addr().unwrap();
    drop(closed);
    let config = test_config();
    let client = client(&config);
    let downstream = Downstream::new("ledger", format!("http://{address}").parse().unwrap());

    let started = Instant::now();
    let error = client.call(&downstream, RequestSpec::get("/v1/x")).await.unwrap_err();
    let elapsed = started.elapsed();

    assert!(matches!(error, CallError::Transport { ref downstream, .. } if &**downstream == "ledger"), "{error:?}");
    let backoff = config.backoff();
    let minimum: Duration = (0..config.max_retries).map(|retry| *backoff.range(retry).start()).sum();
    assert!(elapsed >= minimum, "{elapsed:?} < {minimum:?}: the retries' backoff was not spent");
}

/// Accepts connections, reads a little and closes them without answering; counts connections.
async fn start_resetting_server() -> (url::Url, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let accepted = Arc::new(AtomicUsize::new(0));
    let counter = accepted.clone();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            counter.fetch_add(1, Ordering::SeqCst);
            let mut buffer = [0u8; 16];
            let _ = tokio::io::AsyncReadExt::read(&mut stream, &mut buffer).await;
            drop(stream);
        }
    });
    (format!("http://{address}").parse().unwrap(), accepted)
}

#[tokio::test]
async fn connection_reset_is_retried_for_get_but_not_for_post() {
    let config = test_config();
    let client = client(&config);

    let (url, accepted) = start_resetting_server().await;
    let error = client.call(&Downstream::new("ledger", url), RequestSpec::get("/v1/x")).await.unwrap_err();
    assert!(matches!(error, CallError::Transport { .. }), "{error:?}");
    assert_eq!(accepted.load(Ordering::SeqCst), 1 + config.max_retries as usize);

    let (url, accepted) = start_resetting_server().await;
    let error = client.call(&Downstream::new("ledger", url), RequestSpec::post("/v1/x")).await.unwrap_err();
    assert!(matches!(error, CallError::Transport { .. }), "{error:?}");
    assert_eq!(accepted.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn per_call_timeout_bounds_each_attempt() {
    let server = TestServer::start([], reply(200).delay(Duration::from_secs(10))).await;
    let config = HttpClientConfig { max_retries: 1, ..test_config() };
    let client = client(&config);
    let timeout = Duration::from_millis(150);

    let started = Instant::now();
    let error =
        client.call(&server.downstream("ledger"), RequestSpec::get("/v1/slow").timeout(timeout)).await.unwrap_err();
    let elapsed = started.elapsed();

    assert!(matches!(error, CallError::Timeout { timeout: t, .. } if t == timeout), "{error:?}");
    assert!(elapsed >= timeout * 2, "two attempts of {timeout:?} each, took {elapsed:?}");
    assert!(elapsed < Duration::from_secs(2), "far below the 10 s the server takes: {elapsed:?}");
    server.wait_for_hits(2).await;
    assert_eq!(server.hits(), 2);

    let post = TestServer::start([], reply(200).delay(Duration::from_secs(10))).await;
    let error =
        client.call(&post.downstream("ledger"), RequestSpec::post("/v1/slow").timeout(timeout)).await.unwrap_err();
    assert!(matches!(error, CallError::Timeout { .. }), "{error:?}");
    assert_eq!(post.hits(), 1);
}

// ---------------------------------------------------------------------------------------------
// Circuit breaker through the client
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn five_unavailable_answers_open_the_breaker_and_the_sixth_call_never_reaches_the_server() {
    let server = TestServer::start([], reply(503)).await;
    let config = HttpClientConfig { max_retries: 0, ..test_config() };
    let client = client(&config);
    let ledger = server.downstream("ledger");

    for call in 1..=5 {
        let response = client.call(&ledger, RequestSpec::get("/v1/x")).await.unwrap();
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE, "call {call}");
    }
    assert_eq!(client.breaker_state("ledger"), Some(BreakerState::Open));

    let started = Instant::now();
    let error = client.call(&ledger, RequestSpec::get("/v1/x")).await.unwrap_err();
    assert!(started.elapsed() < Duration::from_millis(50), "fails fast");
    match error {
        CallError::CircuitOpen { downstream, retry_in } => {
            assert_eq!(&*downstream, "ledger");
            assert!(retry_in > Duration::ZERO && retry_in <= config.breaker_open_duration * 12 / 10, "{retry_in:?}");
        }
        other => panic!("expected CircuitOpen, got {other:?}"),
    }
    assert_eq!(server.hits(), 5, "no network traffic while open");

    let other = TestServer::start([], reply(200)).await;
    let response = client.call(&other.downstream("registry"), RequestSpec::get("/v1/x")).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK, "breakers are per downstream");
}

#[tokio::test]
async fn answers_a_caller_can_provoke_never_open_the_breaker() {
    // 500 (a bug on one request), 429 (back-pressure), 408 and any other 4xx: one tenant's
    // requests must not be able to open the breaker that every tenant's traffic goes through.
    for status in [500, 429, 408, 400, 404, 409, 422] {
        let server = TestServer::start([], reply(status)).await;
        let config = HttpClientConfig { max_retries: 0, breaker_failure_threshold: 2, ..test_config() };
        let client = client(&config);
        let ledger = server.downstream("ledger");
        for _ in 0..20 {
            let response = client.call(&ledger, RequestSpec::get("/v1/x")).await.unwrap();
            assert_eq!(response.status().as_u16(), status);
        }
        assert_eq!(client.breaker_state("ledger"), Some(BreakerState::Closed), "after 20 × {status}");
        assert_eq!(server.hits(), 20, "every {status} reached the server");
    }
}

#[tokio::test]
async fn retries_stop_as_soon_as_the_breaker_opens() {
    let server = TestServer::start([], reply(503)).await;
    let config = HttpClientConfig { max_retries: 5, breaker_failure_threshold: 2, ..test_config() };
    let client = client(&config);

    let response = client.call(&server.downstream("ledger"), RequestSpec::get("/v1/x")).await.unwrap();
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(server.hits(), 2);
    assert!(matches!(
        client.call(&server.downstream("ledger"), RequestSpec::get("/v1/x")).await,
        Err(CallError::CircuitOpen { .. })
    ));
}

#[tokio::test]
async fn an_open_breaker_recovers_through_half_open_probes() {
    let server = TestServer::start([reply(502)], reply(200)).await;
    let config = HttpClientConfig {
        breaker_failure_threshold: 1,
        breaker_open_duration: Duration::from_millis(100),
        breaker_jitter: 0.0,
        ..test_config()
    };
    let client = client(&config);
    let ledger = server.downstream("ledger");

    client.call(&ledger, RequestSpec::get("/v1/x")).await.unwrap();
    assert_eq!(client.breaker_state("ledger"), Some(BreakerState::Open));

    let deadline = Instant::now() + Duration::from_secs(5);
    let first_probe = loop {
        match client.call(&ledger, RequestSpec::get("/v1/x")).await {
            Err(CallError::CircuitOpen { .. }) if Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            other => break other,
        }
    };
    assert_eq!(first_probe.unwrap().status(), StatusCode::OK);
    assert_eq!(client.breaker_state("ledger"), Some(BreakerState::HalfOpen));
    client.call(&ledger, RequestSpec::get("/v1/x")).await.unwrap();
    assert_eq!(client.breaker_state("ledger"), Some(BreakerState::HalfOpen));
    client.call(&ledger, RequestSpec::get("/v1/x")).await.unwrap();
    assert_eq!(client.breaker_state("ledger"), Some(BreakerState::Closed));
    assert_eq!(server.hits(), 4);
}

// ---------------------------------------------------------------------------------------------
// Headers, bodies, errors, telemetry
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn service_token_and_per_call_bearer_reach_the_server() {
    let server = TestServer::start([], reply(200)).await;
    let plain = client(&test_config());
    let with_token = plain.clone().with_token_provider(Arc::new(|| Some("service-token".to_owned())));
    let ledger = server.downstream("ledger");

    with_token.call(&ledger, RequestSpec::get("/v1/a")).await.unwrap();
    with_token.call(&ledger, RequestSpec::get("/v1/b").bearer("user-token")).await.unwrap();
    let request_id = HeaderValue::from_static("req-123");
    plain
        .call(&ledger, RequestSpec::get("/v1/c").header(HeaderName::from_static("x-request-id"), request_id))
        .await
        .unwrap();

    let seen = server.seen();
    assert_eq!(seen[0].header("authorization"), Some("Bearer service-token"));
    assert_eq!(seen[1].header("authorization"), Some("Bearer user-token"));
    assert_eq!(seen[2].header("authorization"), None);
    assert_eq!(seen[2].header("x-request-id"), Some("req-123"));
}

#[tokio::test]
async fn json_helpers_send_and_decode_json() {
    let server = TestServer::start([], reply(200).header("content-type", "application/json").body(r#"{"id":7}"#)).await;
    let client = client(&test_config());
    let ledger = server.downstream("ledger");

    let got: serde_json::Value = client.get_json(&ledger, "/v1/things/7").await.unwrap();
    assert_eq!(got, serde_json::json!({ "id": 7 }));
    let created: serde_json::Value =
        client.post_json(&ledger, "/v1/things", &serde_json::json!({ "name": "x" })).await.unwrap();
    assert_eq!(created["id"], 7);

    let seen = server.seen();
    assert_eq!(seen[1].method, Method::POST);
    assert_eq!(seen[1].header("content-type"), Some("application/json"));
    assert_eq!(serde_json::from_slice::<serde_json::Value>(&seen[1].body).unwrap(), serde_json::json!({ "name": "x" }));

    let error = client.get_json::<Vec<u32>>(&ledger, "/v1/things/7").await.unwrap_err();
    assert!(matches!(error, CallError::Decode { .. }), "{error:?}");
}

#[tokio::test]
async fn errors_never_reveal_tokens_or_bodies() {
    let server = TestServer::start([], reply(403).body("top-secret-body")).await;
    let client = client(&test_config());
    let ledger = server.downstream("ledger");

    let error = client.call(&ledger, RequestSpec::get("/v1/x")).await.unwrap().error_for_status().unwrap_err();
    let CallError::Status { ref downstream, status, ref body } = error else { panic!("{error:?}") };
    assert_eq!((&**downstream, status, body.as_ref()), ("ledger", StatusCode::FORBIDDEN, b"top-secret-body".as_ref()));
    let text = format!("{error} {error:?}");
    assert!(!text.contains("top-secret-body"), "{text}");
    assert!(text.contains("403"), "{text}");

    let error = client.call(&ledger, RequestSpec::get("/v1/x").bearer("sekrit\ntoken")).await.unwrap_err();
    assert!(matches!(error, CallError::InvalidRequest { .. }), "{error:?}");
    assert!(!format!("{error} {error:?}").contains("sekrit"));
    let spec = RequestSpec::get("/v1/x").bearer("sekrit-token");
    assert!(!format!("{spec:?}").contains("sekrit"));
    assert_eq!(server.hits(), 1, "an invalid request is never sent");
}

#[tokio::test]
async fn trace_context_is_propagated_as_traceparent() {
    use opentelemetry::trace::{TraceContextExt, TracerProvider as _};
    use tracing::Instrument;
    use tracing_opentelemetry::OpenTelemetrySpanExt;
    use tracing_subscriber::layer::SubscriberExt;

    opentelemetry::global::set_text_map_propagator(opentelemetry_sdk::propagation::TraceContextPropagator::new());
    let provider = opentelemetry_sdk::trace::SdkTracerProvider::builder().build();
    let subscriber = tracing_subscriber::registry()
        .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("http-client-test")));
    let _subscriber = tracing::subscriber::set_default(subscriber);

    let server = TestServer::start([], reply(200)).await;
    let client = client(&test_config());
    let span = tracing::info_span!("handler");
    let trace_id = span.context().span().span_context().trace_id();
    client.call(&server.downstream("ledger"), RequestSpec::get("/v1/x")).instrument(span).await.unwrap();

    let seen = server.seen();
    let traceparent = seen[0].header("traceparent").expect("traceparent header");
    assert!(traceparent.starts_with(&format!("00-{trace_id}-")), "{traceparent} carries trace {trace_id}");
}

#[tokio::test]
async fn metrics_are_labelled_by_downstream_and_outcome() {
    let recorder = metrics_exporter_prometheus::PrometheusBuilder::new().build_recorder();
    let handle = recorder.handle();
    let _recorder = metrics::set_default_local_recorder(&recorder);

    let server = TestServer::start([reply(404)], reply(503)).await;
    let config = HttpClientConfig { max_retries: 0, breaker_failure_threshold: 1, ..test_config() };
    let client = client(&config);
    let ledger = server.downstream("ledger");
    client.call(&ledger, RequestSpec::get("/v1/things/1")).await.unwrap();
    client.call(&ledger, RequestSpec::get("/v1/things/2")).await.unwrap();
    client.call(&ledger, RequestSpec::get("/v1/things/3")).await.unwrap_err();

    let rendered = handle.render();
    for line in [
        r#"aex_circuit_breaker_state{downstream="ledger"} 2"#,
        r#"aex_downstream_requests_total{downstream="ledger",outcome="client_error"} 1"#,
        r#"aex_downstream_requests_total{downstream="ledger",outcome="server_error"} 1"#,
        r#"aex_downstream_requests_total{downstream="ledger",outcome="circuit_open"} 1"#,
        r#"aex_downstream_request_duration_seconds_count{downstream="ledger"} 2"#,
    ] {
        assert!(rendered.lines().any(|l| l == line), "missing `{line}` in:\n{rendered}");
    }
    assert!(!rendered.contains("/v1/things"), "paths are never labels");
}
