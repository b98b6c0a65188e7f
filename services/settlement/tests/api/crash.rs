//! The settlement process killed with SIGKILL in the middle of a transfer load, then
//! restarted: money is conserved, nothing acknowledged is lost, and retried requests with their
//! original ids take effect exactly once.

use crate::Settlement;
use aex_common::auth::ServiceTokens;
use aex_common::secret::Secret;
use serde_json::json;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// The real `aex-settlement` binary on a fixed port, in the test's schema and namespace.
struct Process {
    child: Child,
}

impl Process {
    fn start(sut: &aex_testkit::ServiceUnderTest, port: u16) -> Self {
        let child = Command::new(env!("CARGO_BIN_EXE_aex-settlement"))
            .env("DATABASE_URL", &sut.database_url)
            .env("AEX_DB_SCHEMA", &sut.schema)
            .env("NATS_URL", &sut.nats_url)
            .env("AEX_NATS_NAMESPACE", &sut.namespace)
            .env("AEX_SERVICE_TOKEN_SECRET", &sut.token_secret)
            .env("AEX_BIND", format!("127.0.0.1:{port}"))
            .env("AEX_LOG_FORMAT", "text")
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn aex-settlement");
        Self { child }
    }

    fn kill(&mut self) {
        // SIGKILL: no graceful shutdown, no flush.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        self.kill();
    }
}

async fn wait_ready(http: &reqwest::Client, base: &str) {
    aex_testkit::eventually(Duration::from_secs(30), "the settlement process to be ready", || async {
        let response = http.get(format!("{base}/health/ready")).send().await.ok()?;
        (response.status() == 200).then_some(())
    })
    .await;
}

#[tokio::test]
async fn a_killed_and_restarted_ledger_loses_nothing_and_applies_retries_once() {
    // An in-process copy migrates the schema and provides the helpers; the process under test
    // is a separate binary on the same schema.
    let s = Settlement::start().await;
    let port = aex_testkit::free_port();
    let base = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::builder().timeout(Duration::from_secs(5)).build().unwrap();
    let mut process = Process::start(&s.sut, port);
    wait_ready(&http, &base).await;

    let tokens = ServiceTokens::new(&Secret::new(s.sut.token_secret.clone()), Duration::from_secs(600)).unwrap();
    let tenants: Vec<String> = (0..20).map(|_| crate::tenant()).collect();
    let mut accounts = Vec::new();
    for t in &tenants {
        let caller = s.tenant(t);
        caller.deposit("500.00").await;
        accounts.push(caller.account_id().await);
    }
    let deposited = 20 * 50_000i64;
    let tokens: Arc<Vec<String>> = Arc::new(
        tenants.iter().map(|t| tokens.mint("gateway", Some(t), &["billing:write".into()], None).unwrap()).collect(),
    );
    let accounts = Arc::new(accounts);

    // Each client sends its transfers in order and retries every one, with its original id,
    // until the service gives a definite answer.
    let started = Instant::now();
    let stop = Arc::new(AtomicBool::new(false));
    let acked = Arc::new(AtomicUsize::new(0));
    let mut clients = Vec::new();
    for client in 0..16 {
        let (http, base, tokens, accounts) = (http.clone(), base.clone(), tokens.clone(), accounts.clone());
        let (stop, acked) = (stop.clone(), acked.clone());
        clients.push(tokio::spawn(async move {
            let mut acknowledged = Vec::new();
            let mut retried = 0;
            let mut n = 0;
            while !stop.load(Ordering::SeqCst) {
                n += 1;
                let from = fastrand::usize(..20);
                let to = if fastrand::bool() { fastrand::usize(..3) } else { fastrand::usize(..20) };
                let id = format!("k{client}-{n}");
                let body = json!({ "id": id, "debit_account_id": accounts[from], "credit_account_id": accounts[to],
                                   "amount": format!("{}.{:02}", fastrand::u32(0..30), fastrand::u32(1..100)) });
                loop {
                    let answer =
                        http.post(format!("{base}/v1/transfers")).bearer_auth(&tokens[from]).json(&body).send().await;
                    match answer {
                        Ok(response) if response.status() == 201 => {
                            acknowledged.push(id.clone());
                            acked.fetch_add(1, Ordering::SeqCst);
                            break;
                        }
                        Ok(response) if response.status().is_client_error() => break,
                        _ => {
                            retried += 1;
                            assert!(started.elapsed() < Duration::from_secs(90), "the service never came back");
                            tokio::time::sleep(Duration::from_millis(50)).await;
                        }
                    }
                }
            }
            (acknowledged, retried)
        }));
    }
    aex_testkit::eventually(Duration::from_secs(30), "the load to be under way", || async {
        (acked.load(Ordering::SeqCst) >= 200).then_some(())
    })
    .await;
    process.kill();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let _restarted = Process::start(&s.sut, port);
    wait_ready(&http, &base).await;
    let after_restart = acked.load(Ordering::SeqCst);
    aex_testkit::eventually(Duration::from_secs(30), "the load to go on after the restart", || async {
        (acked.load(Ordering::SeqCst) >= after_restart + 200).then_some(())
    })
    .await;
    stop.store(true, Ordering::SeqCst);

    let (mut acknowledged, mut retried) = (Vec::new(), 0);
    for client in clients {
        let (acks, retries) = client.await.unwrap();
        acknowledged.extend(acks);
        retried += retries;
    }
    assert!(retried > 0, "the kill must have interrupted requests");
    assert!(acknowledged.len() > 200);

    let pool = s.sut.pool().await;
    let balances: Vec<i64> =
        sqlx::query_scalar("SELECT credits_posted - debits_posted FROM accounts WHERE kind = 'tenant'")
            .fetch_all(&pool)
            .await
            .unwrap();
    assert_eq!(balances.iter().sum::<i64>(), deposited, "money is conserved to the cent");
    assert!(balances.iter().all(|b| *b >= 0), "no tenant account is negative");
    let present: i64 = sqlx::query_scalar("SELECT count(*) FROM transfers WHERE id = ANY($1)")
        .bind(&acknowledged)
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(present as usize, acknowledged.len(), "every acknowledged transfer survived");
    let (status, verification) = s.admin().get("/v1/audit/journal/verify").await;
    assert_eq!(status, 200);
    assert_eq!(verification["valid"], true, "{verification}");
}
