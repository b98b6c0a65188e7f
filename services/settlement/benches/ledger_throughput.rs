//! Ledger write throughput with a hot account, in one run on one database:
//!
//! (a) naive baseline: one transaction per transfer with row locks, directly in SQL, every
//!     transfer also crediting one hot fee account;
//! (b) the single-transfer HTTP API, 64 concurrent clients, every transfer crediting the hot
//!     account (group commit batches them);
//! (c) the batch HTTP API.
//!
//! Prints transfers/s and p50/p99 latency for each, and the ratios (b)/(a) and (c)/(a).
//! Targets: (b) >= 3x (a), (c) >= 15x (a). Run with `deploy/local/stack bench -p aex-settlement`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::float_arithmetic)]

use aex_common::auth::ServiceTokens;
use aex_common::secret::Secret;
use aex_testkit::BenchRun;
use clap::Parser;
use serde_json::json;
use sqlx::PgPool;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

const CLIENTS: usize = 64;
const TENANTS: usize = 256;
const RUN: Duration = Duration::from_secs(8);
const BATCH: usize = 500;

/// (a): the textbook approach — lock both accounts and the fee account, update, insert, commit.
async fn naive_baseline(pool: &PgPool) -> BenchRun {
    sqlx::raw_sql(
        "CREATE TABLE naive_accounts (id INT PRIMARY KEY, balance BIGINT NOT NULL CHECK (balance >= 0));
         CREATE TABLE naive_transfers (id BIGSERIAL PRIMARY KEY, debit INT NOT NULL, credit INT NOT NULL,
                                       amount BIGINT NOT NULL, fee BIGINT NOT NULL, created_at TIMESTAMPTZ DEFAULT now());",
    )
    .execute(pool)
    .await
    .unwrap();
    sqlx::query("INSERT INTO naive_accounts SELECT g, 1000000000 FROM generate_series(0, $1) g")
        .bind(TENANTS as i32)
        .execute(pool)
        .await
        .unwrap();
    let hot = TENANTS as i32;
    let done = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..CLIENTS {
        let pool = pool.clone();
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            while started.elapsed() < RUN {
                let (debit, credit) = (fastrand::i32(0..hot), fastrand::i32(0..hot));
                if debit == credit {
                    continue;
                }
                let t0 = Instant::now();
                let mut tx = pool.begin().await.unwrap();
                let mut ids = [debit, credit, hot];
                ids.sort();
                sqlx::query("SELECT id FROM naive_accounts WHERE id = ANY($1) ORDER BY id FOR UPDATE")
                    .bind(&ids[..])
                    .fetch_all(&mut *tx)
                    .await
                    .unwrap();
                sqlx::query("UPDATE naive_accounts SET balance = balance - 110 WHERE id = $1")
                    .bind(debit)
                    .execute(&mut *tx)
                    .await
                    .unwrap();
                sqlx::query("UPDATE naive_accounts SET balance = balance + 100 WHERE id = $1")
                    .bind(credit)
                    .execute(&mut *tx)
                    .await
                    .unwrap();
                sqlx::query("UPDATE naive_accounts SET balance = balance + 10 WHERE id = $1")
                    .bind(hot)
                    .execute(&mut *tx)
                    .await
                    .unwrap();
                sqlx::query("INSERT INTO naive_transfers (debit, credit, amount, fee) VALUES ($1, $2, 100, 10)")
                    .bind(debit)
                    .bind(credit)
                    .execute(&mut *tx)
                    .await
                    .unwrap();
                tx.commit().await.unwrap();
                latencies.push(t0.elapsed());
            }
            latencies
        }));
    }
    let mut latencies = Vec::new();
    for task in tasks {
        latencies.extend(task.await.unwrap());
    }
    done.store(latencies.len(), Ordering::Relaxed);
    BenchRun {
        name: "(a) naive: one transaction per transfer".into(),
        operations: latencies.len(),
        errors: 0,
        elapsed: started.elapsed(),
        latencies,
    }
}

#[tokio::main]
async fn main() {
    aex_testkit::init();
    let sut = aex_testkit::ServiceUnderTest::new("aex-settlement", "bench_settlement");
    let mut args = sut.args();
    if let Some(at) = args.iter().position(|a| a == "--db-max-connections") {
        args[at + 1] = "32".into();
    }
    let config = aex_settlement::Config::try_parse_from(args).unwrap();
    let service =
        aex_testkit::spawn_service(|listener, shutdown| aex_settlement::run(config, listener, shutdown)).await;
    let tokens = ServiceTokens::new(&Secret::new(sut.token_secret.clone()), Duration::from_secs(3600)).unwrap();
    let http = reqwest::Client::builder().pool_max_idle_per_host(CLIENTS).build().unwrap();

    // Tenants with funds; tenant 0's account plays the hot fee account every transfer credits.
    let mut tenants = Vec::new();
    for _ in 0..=TENANTS {
        let tenant = aex_types::TenantId::new().to_string();
        let token = tokens.mint("gateway", Some(&tenant), &["billing:write".into(), "read".into()], None).unwrap();
        let response = http
            .post(service.url("/v1/deposits"))
            .bearer_auth(&token)
            .json(&json!({ "amount": "10000000.00" }))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 201);
        let accounts: serde_json::Value =
            http.get(service.url("/v1/accounts")).bearer_auth(&token).send().await.unwrap().json().await.unwrap();
        tenants.push((token, accounts["accounts"][0]["id"].as_str().unwrap().to_string()));
    }
    let tenants = Arc::new(tenants);
    let hot = tenants[0].1.clone();

    let baseline_pool = aex_testkit::schema_pool(&aex_testkit::unique_schema("bench_naive")).await;
    println!(
        "ledger throughput, hot account on every transfer, {CLIENTS} concurrent clients, {}s per run",
        RUN.as_secs()
    );
    let naive = naive_baseline(&baseline_pool).await;
    naive.print("transfers");

    // (b) single-transfer API.
    let started = Instant::now();
    let mut tasks = Vec::new();
    for client in 0..CLIENTS {
        let (http, tenants, hot, url) = (http.clone(), tenants.clone(), hot.clone(), service.url("/v1/transfers"));
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut n = 0;
            while started.elapsed() < RUN {
                let (token, account) = &tenants[1 + fastrand::usize(..TENANTS)];
                let body = json!({ "id": format!("s{client}-{n}"), "debit_account_id": account, "credit_account_id": hot, "amount": "1.10" });
                n += 1;
                let t0 = Instant::now();
                let response = http.post(&url).bearer_auth(token).json(&body).send().await.unwrap();
                assert_eq!(response.status(), 201);
                latencies.push(t0.elapsed());
            }
            latencies
        }));
    }
    let mut latencies = Vec::new();
    for task in tasks {
        latencies.extend(task.await.unwrap());
    }
    let single = BenchRun {
        name: "(b) single-transfer API, group commit".into(),
        operations: latencies.len(),
        errors: 0,
        elapsed: started.elapsed(),
        latencies,
    };
    single.print("transfers");

    // (c) batch API: each request carries BATCH transfers from one tenant to the hot account.
    let started = Instant::now();
    let mut tasks = Vec::new();
    for client in 0..8 {
        let (http, tenants, hot, url) = (http.clone(), tenants.clone(), hot.clone(), service.url("/v1/transfers"));
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut moved = 0;
            let mut n = 0;
            while started.elapsed() < RUN {
                let (token, account) = &tenants[1 + fastrand::usize(..TENANTS)];
                let items: Vec<serde_json::Value> = (0..BATCH)
                    .map(|i| json!({ "id": format!("b{client}-{n}-{i}"), "debit_account_id": account, "credit_account_id": hot, "amount": "1.10" }))
                    .collect();
                n += 1;
                let t0 = Instant::now();
                let response = http.post(&url).bearer_auth(token).json(&json!({ "transfers": items })).send().await.unwrap();
                assert_eq!(response.status(), 200);
                let body: serde_json::Value = response.json().await.unwrap();
                moved += body["committed"].as_u64().unwrap() as usize;
                latencies.push(t0.elapsed());
            }
            (moved, latencies)
        }));
    }
    let (mut moved, mut latencies) = (0, Vec::new());
    for task in tasks {
        let (m, l) = task.await.unwrap();
        moved += m;
        latencies.extend(l);
    }
    let batch = BenchRun {
        name: "(c) batch API (500 per request, 8 clients)".into(),
        operations: moved,
        errors: 0,
        elapsed: started.elapsed(),
        latencies,
    };
    batch.print("transfers");
    println!("  latency of (c) is per request of {BATCH} transfers");
    println!("  ratio (b)/(a) = {:.1}x   (target >= 3x)", single.per_second() / naive.per_second());
    println!("  ratio (c)/(a) = {:.1}x   (target >= 15x)", batch.per_second() / naive.per_second());
    service.stop().await;
}
