//! Certificate crypto throughput, in one run on this machine:
//!
//! (a) credential signatures/s: ECDSA P-256 (SHA-256) over a credential's canonical JSON, as
//!     issuance signs it (canonical form included, one core);
//! (b) credential verifications/s: the same check `POST /v1/certificates/verify` makes;
//! (c) when a test database is configured (`deploy/local/stack env`), `POST /v1/certificates/verify`
//!     requests/s through the real service with 64 concurrent clients.
//!
//! Run with `deploy/local/stack bench -p aex-certauth` or
//! `eval "$(deploy/local/stack env)" && cargo bench -p aex-certauth --bench crypto`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::float_arithmetic)]

use aex_certauth::domain::ca::generate_key;
use aex_certauth::domain::credential::Credential;
use aex_certauth::domain::request::{CertificateType, Claim};
use clap::Parser;
use serde_json::json;
use std::hint::black_box;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

const RUN: Duration = Duration::from_secs(3);
const CLIENTS: usize = 64;

fn credential() -> Credential {
    Credential {
        certificate_id: "cert_0123456789abcdefghjkmnpqrs".into(),
        certificate_type: CertificateType::Capability,
        provider_id: "prov_0123456789abcdefghjkmnpqrs".into(),
        agent_name: "Translator Agent".into(),
        claims: vec![
            Claim {
                category: "translation".into(),
                capability: "en-de".into(),
                scope: Some("eu".into()),
                authorization: "FULL".into(),
            },
            Claim {
                category: "summarization".into(),
                capability: "*".into(),
                scope: None,
                authorization: "LIMITED".into(),
            },
        ],
        subject_key_sha256: "ab".repeat(32),
        serial: "0a0b0c0d0e0f101112131415161718191a1b1c1d".into(),
        issuer: "AEX Certificate Authority".into(),
        key_id: "aex-ca-v1".into(),
        key_version: 1,
        issued_at: "2026-11-21T05:00:00Z".into(),
        not_before: "2026-11-21T05:00:00Z".into(),
        not_after: "2027-11-21T05:00:00Z".into(),
        previous_cert_id: None,
        renewal_count: 0,
    }
}

/// Runs `op` for about `RUN`; returns operations per second.
fn rate(mut op: impl FnMut()) -> (f64, usize) {
    let start = Instant::now();
    let mut n = 0usize;
    while start.elapsed() < RUN {
        for _ in 0..64 {
            op();
        }
        n += 64;
    }
    (n as f64 / start.elapsed().as_secs_f64(), n)
}

fn in_process() {
    let key = generate_key().unwrap();
    let verifying = *key.verifying_key();
    let credential = credential();
    let (signature, _) = credential.sign(&key);
    assert!(credential.signature_valid(&signature, &verifying), "the benchmark signs something that verifies");
    let (signs, n) = rate(|| {
        black_box(black_box(&credential).sign(&key));
    });
    println!(
        "  {:<48} {signs:>9.0} signatures/s     ({n} in {RUN:?}, one core)",
        "(a) credential signature, ECDSA P-256"
    );
    let (verifies, n) = rate(|| {
        assert!(black_box(&credential).signature_valid(black_box(&signature), &verifying));
    });
    println!(
        "  {:<48} {verifies:>9.0} verifications/s  ({n} in {RUN:?}, one core)",
        "(b) credential verification, ECDSA P-256"
    );
}

async fn over_http() {
    let sut = aex_testkit::ServiceUnderTest::new("aex-certauth", "bench_certauth");
    let mut args = sut.args();
    args.extend(["--ca-kek".to_string(), "8f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0".into()]);
    let config = aex_certauth::Config::try_parse_from(args).unwrap();
    let service = aex_testkit::spawn_service(|listener, shutdown| aex_certauth::run(config, listener, shutdown)).await;
    let tokens = aex_common::auth::ServiceTokens::new(
        &aex_common::secret::Secret::new(sut.token_secret.clone()),
        Duration::from_secs(600),
    )
    .unwrap();
    let tenant = tokens.mint("gateway", Some("tenant_bench"), &["read".into(), "certs:issue".into()], None).unwrap();
    let admin = tokens.mint("gateway", Some("tenant_operator"), &["admin".into()], None).unwrap();
    let key = generate_key().unwrap();
    let request = json!({
        "provider_id": "prov_bench", "agent_name": "Bench Agent", "certificate_type": "CAPABILITY",
        "claims": [{ "category": "translation", "capability": "en-de", "authorization": "FULL" }],
        "public_key_pem": aex_certauth::domain::ca::public_key_pem(key.verifying_key()).unwrap(),
    });
    let http = reqwest::Client::new();
    let created: serde_json::Value = http
        .post(service.url("/v1/certificates/request"))
        .bearer_auth(&tenant)
        .json(&request)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let request_id = created["request_id"].as_str().unwrap();
    let cert: serde_json::Value = http
        .post(service.url(&format!("/v1/certificates/requests/{request_id}/approve")))
        .bearer_auth(&admin)
        .json(&json!({}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let body = Arc::new(json!({ "certificate": cert["certificate"] }));
    let url = Arc::new(service.url("/v1/certificates/verify"));
    let (done, errors) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let start = Instant::now();
    let mut clients = Vec::with_capacity(CLIENTS);
    for _ in 0..CLIENTS {
        let (http, url, body, done, errors) = (http.clone(), url.clone(), body.clone(), done.clone(), errors.clone());
        clients.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            while start.elapsed() < RUN {
                let t = Instant::now();
                let ok = match http.post(url.as_str()).json(&*body).send().await {
                    Ok(r) => r.json::<serde_json::Value>().await.is_ok_and(|v| v["valid"] == true),
                    Err(_) => false,
                };
                latencies.push(t.elapsed());
                let counter = if ok { &done } else { &errors };
                counter.fetch_add(1, Ordering::Relaxed);
            }
            latencies
        }));
    }
    let mut latencies = Vec::new();
    for client in clients {
        latencies.extend(client.await.unwrap());
    }
    let elapsed = start.elapsed().as_secs_f64();
    latencies.sort();
    let at = |q: usize| latencies.get(latencies.len() * q / 100).copied().unwrap_or_default().as_secs_f64() * 1e3;
    let ok = done.load(Ordering::Relaxed);
    println!(
        "  {:<48} {:>9.0} requests/s       p50 {:.2} ms  p99 {:.2} ms  ({ok} valid, {} errors, {CLIENTS} clients)",
        "(c) POST /v1/certificates/verify over HTTP",
        ok as f64 / elapsed,
        at(50),
        at(99),
        errors.load(Ordering::Relaxed),
    );
    service.stop().await;
}

#[tokio::main]
async fn main() {
    aex_common::runtime::install_crypto_provider();
    println!("certauth crypto benchmark");
    in_process();
    if std::env::var_os("AEX_TEST_DATABASE_URL").is_some() {
        over_http().await;
    } else {
        println!("  (c) skipped: no AEX_TEST_DATABASE_URL (eval \"$(deploy/local/stack env)\" first)");
    }
}
