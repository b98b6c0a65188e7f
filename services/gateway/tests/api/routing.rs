//! Routing: every API.md route reaches the service that owns it (checked against a list
//! written from API.md, independent of the gateway's table), with a service token instead of
//! the client's credentials; internal routes stay internal; failing upstreams answer 502/503/504.

use crate::{Cred, assert_error, request};
use serde_json::json;
use std::time::{Duration, Instant};

/// API.md, service by service: (method, path with sample ids, owner, public).
const API_MD: &[(&str, &str, &str, bool)] = &[
    ("POST", "/v1/providers", "work-publisher", false),
    ("GET", "/v1/providers", "work-publisher", false),
    ("GET", "/v1/providers/search", "work-publisher", false),
    ("GET", "/v1/providers/prov_1", "work-publisher", false),
    ("GET", "/v1/providers/prov_1/a2a", "work-publisher", false),
    ("POST", "/v1/providers/prov_1/agent-card", "work-publisher", false),
    ("POST", "/v1/subscriptions", "work-publisher", false),
    ("GET", "/v1/subscriptions", "work-publisher", false),
    ("POST", "/v1/work", "work-publisher", false),
    ("GET", "/v1/work", "work-publisher", false),
    ("GET", "/v1/work/work_1", "work-publisher", false),
    ("POST", "/v1/work/work_1/cancel", "work-publisher", false),
    ("POST", "/v1/bids", "work-publisher", false),
    ("GET", "/v1/work/work_1/bids", "work-publisher", false),
    ("POST", "/v1/work/work_1/award", "work-publisher", false),
    ("GET", "/v1/contracts/contract_1", "work-publisher", false),
    ("POST", "/v1/contracts/contract_1/progress", "work-publisher", false),
    ("POST", "/v1/contracts/contract_1/complete", "work-publisher", false),
    ("POST", "/v1/contracts/contract_1/fail", "work-publisher", false),
    ("GET", "/v1/work/work_1/evaluation", "bid-evaluator", false),
    ("GET", "/v1/balance", "settlement", false),
    ("POST", "/v1/deposits", "settlement", false),
    ("POST", "/v1/withdrawals", "settlement", false),
    ("GET", "/v1/usage", "settlement", false),
    ("GET", "/v1/usage/transactions", "settlement", false),
    ("GET", "/v1/accounts", "settlement", false),
    ("GET", "/v1/accounts/acct_1", "settlement", false),
    ("GET", "/v1/accounts/acct_1/entries", "settlement", false),
    ("POST", "/v1/transfers", "settlement", false),
    ("GET", "/v1/settlements/contract_1", "settlement", false),
    ("GET", "/v1/settlements/contract_1/receipt", "settlement", false),
    ("POST", "/v1/receipts/verify", "settlement", false),
    // Not in API.md: the published receipt keys, and their rotation by the operator.
    ("GET", "/v1/receipts/keys", "settlement", true),
    ("POST", "/v1/receipts/keys/rotate", "settlement", false),
    ("GET", "/v1/fees/policy", "settlement", false),
    ("GET", "/v1/fees/tiers/prov_1", "settlement", false),
    ("GET", "/v1/audit/deals/contract_1/replay", "settlement", false),
    ("GET", "/v1/audit/agents/prov_1/revenue", "settlement", false),
    ("GET", "/v1/audit/journal", "settlement", false),
    ("GET", "/v1/audit/journal/verify", "settlement", false),
    ("GET", "/v1/market/feed", "settlement", true),
    ("GET", "/v1/market/feed/premium", "settlement", false),
    ("POST", "/v1/certificates/request", "certauth", false),
    ("POST", "/v1/certificates/requests/req_1/approve", "certauth", false),
    ("POST", "/v1/certificates/requests/req_1/reject", "certauth", false),
    ("GET", "/v1/certificates/cert_1", "certauth", false),
    ("POST", "/v1/certificates/cert_1/renew", "certauth", false),
    ("DELETE", "/v1/certificates/cert_1", "certauth", false),
    ("POST", "/v1/certificates/verify", "certauth", false),
    ("GET", "/v1/certificates/search", "certauth", false),
    ("GET", "/v1/providers/prov_1/certificates", "certauth", false),
    ("GET", "/v1/providers/prov_1/reputation", "certauth", false),
    ("GET", "/v1/providers/prov_1/trust", "certauth", false),
    ("GET", "/v1/reputation/leaderboard", "certauth", false),
    ("GET", "/v1/crl", "certauth", true),
    ("GET", "/v1/crl.der", "certauth", true),
    ("GET", "/.well-known/aex-ca.json", "certauth", true),
    ("POST", "/v1/ca/keys/rotate", "certauth", false),
    ("POST", "/v1/ca/keys/3/revoke", "certauth", false),
];

#[tokio::test]
async fn every_api_md_route_reaches_the_service_that_owns_it() {
    let gw = crate::start_gateway().await;
    let proxied = aex_gateway::domain::route::ROUTES
        .iter()
        .filter(|r| r.service != aex_gateway::domain::route::Service::Gateway)
        .count();
    assert_eq!(proxied, API_MD.len(), "the gateway's table and API.md list the same routes");
    for &(method, path, owner, public) in API_MD {
        let body = (method == "POST").then(|| json!({"probe": path}));
        let cred = if public { Cred::None } else { gw.admin() };
        let response = request(&gw.service, method, &format!("{path}?probe=1"), cred, body).send().await.unwrap();
        assert_eq!(response.status(), 200, "{method} {path}");
        assert_eq!(response.headers()["x-aex-upstream"], owner, "{method} {path}");
        let echoed: serde_json::Value = response.json().await.unwrap();
        assert_eq!(echoed["service"], owner, "{method} {path}");
        assert_eq!(echoed["method"], method);
        assert_eq!(echoed["path"], path);
        assert_eq!(echoed["query"], "probe=1");
        assert_eq!(echoed["caller"], "gateway");
        if public {
            assert!(echoed["tenant_id"].is_null(), "{path}: an anonymous request acts for no tenant");
        } else {
            assert!(echoed["tenant_id"].as_str().unwrap().starts_with("tenant_"));
        }
        if method == "POST" {
            assert_eq!(echoed["body"], json!({"probe": path}).to_string());
        }
    }
    // Public routes need no credentials; every other one does.
    for &(method, path, _, public) in API_MD.iter().filter(|r| !r.3) {
        let _ = public;
        let answer = crate::call(&gw.service, method, path, Cred::None, None).await;
        assert_error(&answer, 401, "AUTHENTICATION_REQUIRED");
    }
}

#[tokio::test]
async fn internal_and_unknown_routes_are_not_exposed() {
    let gw = crate::start_gateway().await;
    for (method, path) in [
        ("POST", "/internal/v1/evaluate"),
        ("POST", "/internal/v1/holds"),
        ("POST", "/internal/settlement/complete"),
        ("POST", "/internal/v1/certificates/cert_1/approve"),
        ("POST", "/internal/v1/certificates/batch-verify"),
        ("GET", "/internal/v1/providers/prov_1/can-perform"),
        ("GET", "/v1/providers/prov_1/unknown"),
    ] {
        let answer = crate::call(&gw.service, method, path, gw.admin(), Some(json!({}))).await;
        assert_error(&answer, 404, "NOT_FOUND");
    }
    let total: usize = gw.env.upstreams.iter().map(|u| u.calls()).sum();
    assert_eq!(total, 0);
}

#[tokio::test]
async fn the_client_credentials_never_travel_upstream() {
    let gw = crate::start_gateway().await;
    let (tenant, key) = gw.create_tenant("REQUESTOR").await;
    let response =
        request(&gw.service, "POST", "/v1/work?draft=true", Cred::Bearer(&key), Some(json!({"category": "x"})))
            .header("x-tenant-id", "tenant_someone_else")
            .header("x-api-key", &key)
            .header("idempotency-key", "idem-1")
            .header("x-request-id", "req-routing-1")
            .header("cookie", "session=abc")
            .send()
            .await
            .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["x-request-id"], "req-routing-1");
    let echoed: serde_json::Value = response.json().await.unwrap();
    assert_eq!(echoed["tenant_id"], tenant.as_str(), "the tenant comes from the credentials");
    assert!(echoed["x_tenant_id"].is_null(), "a client X-Tenant-ID is dropped");
    assert!(echoed["x_api_key"].is_null(), "the client's key is not forwarded");
    assert_eq!(echoed["caller"], "gateway", "Authorization upstream is the service token");
    assert_eq!(echoed["idempotency_key"], "idem-1");
    assert_eq!(echoed["request_id"], "req-routing-1");
    assert_eq!(echoed["x_request_id"], "req-routing-1");
    assert_eq!(echoed["content_type"], "application/json");
    assert_eq!(echoed["query"], "draft=true");
    assert!(echoed["body"].as_str().unwrap().contains("category"));
}

#[tokio::test]
async fn failing_upstreams_answer_502_then_503_at_once_and_slow_ones_504() {
    let dead = format!("http://127.0.0.1:{}", aex_testkit::free_port());
    let gw = crate::start_gateway_with(&[
        "--certauth-url",
        &dead,
        "--http-max-retries",
        "0",
        "--http-request-timeout",
        "300ms",
        "--http-breaker-failure-threshold",
        "3",
    ])
    .await;
    for _ in 0..3 {
        let answer = crate::call(&gw.service, "GET", "/v1/reputation/leaderboard", gw.admin(), None).await;
        assert_error(&answer, 502, "BAD_GATEWAY");
    }
    let started = Instant::now();
    let response = request(&gw.service, "GET", "/v1/reputation/leaderboard", gw.admin(), None).send().await.unwrap();
    let elapsed = started.elapsed();
    assert_eq!(response.status(), 503);
    assert!(response.headers().get("retry-after").is_some());
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "SERVICE_UNAVAILABLE");
    assert!(elapsed < Duration::from_millis(200), "an open breaker fails fast ({elapsed:?})");
    // Other services are unaffected; a slow one times out.
    assert_eq!(crate::call(&gw.service, "GET", "/v1/balance", gw.admin(), None).await.0, 200);
    let answer = crate::call(&gw.service, "GET", "/v1/balance?delay_ms=2000", gw.admin(), None).await;
    assert_error(&answer, 504, "GATEWAY_TIMEOUT");
}
