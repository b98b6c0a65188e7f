//! The durable bid-window timer: closes on time, exactly once under concurrency and with
//! several replicas, and after a restart.

use crate::{Publisher, tenant, work_body};
use aex_work_publisher::timers::BidWindowCloser;
use serde_json::json;
use std::time::Duration;

async fn close_events_for(p_pool: &sqlx::PgPool, work_id: &str) -> i64 {
    sqlx::query_scalar(
        "SELECT count(*) FROM outbox WHERE subject = 'work.bid_window_closed'
           AND convert_from(payload, 'UTF8')::jsonb -> 'data' ->> 'work_id' = $1",
    )
    .bind(work_id)
    .fetch_one(p_pool)
    .await
    .unwrap()
}

#[tokio::test]
async fn a_window_closes_on_time_with_what_the_evaluator_needs_and_no_prices() {
    let p = Publisher::start().await;
    let consumer_id = tenant();
    let consumer = p.tenant(&consumer_id);
    let mut body = work_body("translation.legal");
    body["bid_window_ms"] = json!(5000);
    body["auto_award"] = json!(true);
    body["budget"]["bid_strategy"] = json!("lowest_price");
    let (status, created) = consumer.post("/v1/work", &body).await;
    assert_eq!(status, 201);
    let work_id = created["work_id"].as_str().unwrap().to_string();
    let bidder = p.tenant(&tenant());
    bidder.provider(&crate::name("bidder")).await;
    let (status, _) = bidder.bid(&work_id, "77.77").await;
    assert_eq!(status, 201);

    p.wait_closed(&work_id).await;
    let late_ms: f64 = sqlx::query_scalar(
        "SELECT extract(epoch FROM closed_at - bid_window_ends_at)::float8 * 1000 FROM work WHERE id = $1",
    )
    .bind(&work_id)
    .fetch_one(&p.pool)
    .await
    .unwrap();
    assert!((0.0..1000.0).contains(&late_ms), "closed {late_ms} ms after the deadline");

    let events = p.events("work.bid_window_closed").await;
    assert_eq!(events.len(), 1);
    let e = &events[0];
    assert_eq!(e["work_id"], work_id.as_str());
    assert_eq!(e["consumer_tenant_id"], consumer_id.as_str());
    assert_eq!((e["max_price"].as_str(), e["max_price_minor"].as_i64()), (Some("100.00"), Some(10_000)));
    assert_eq!(e["bid_strategy"], "lowest_price");
    assert_eq!(e["auto_award"], true);
    assert_eq!(e["bid_count"], 1);
    assert_eq!(e["constraints"]["max_latency_ms"], 60_000);
    assert!(!e.to_string().contains("77.77") && !e.to_string().contains("7777"), "{e}");
    let (_, view) = consumer.get(&format!("/v1/work/{work_id}")).await;
    assert_eq!(view["status"], "EVALUATING");
    assert!(view["closed_at"].is_string());
    p.service.stop().await;
}

#[tokio::test]
async fn five_hundred_concurrent_closers_close_each_window_exactly_once() {
    let p = Publisher::start().await;
    let consumer = p.tenant(&tenant());
    let mut ids = Vec::new();
    for _ in 0..20 {
        ids.push(consumer.work("translation.legal").await);
    }
    // Stop the service's own closer; the 500 below are the only ones racing.
    let Publisher { service, pool, .. } = p;
    service.stop().await;
    sqlx::query("UPDATE work SET bid_window_ends_at = now() - interval '1 millisecond'").execute(&pool).await.unwrap();

    let closer = BidWindowCloser::new(pool.clone(), Duration::from_millis(200));
    let attempts: Vec<_> = (0..500)
        .map(|_| {
            let closer = closer.clone();
            tokio::spawn(async move { closer.close_due().await.map(|closed| closed.len()) })
        })
        .collect();
    let mut closed = 0;
    for attempt in futures::future::join_all(attempts).await {
        closed += attempt.unwrap().unwrap();
    }
    assert_eq!(closed, 20, "each window closed by exactly one attempt");
    for id in &ids {
        assert_eq!(close_events_for(&pool, id).await, 1, "{id}");
    }
    let evaluating: i64 =
        sqlx::query_scalar("SELECT count(*) FROM work WHERE status = 'EVALUATING'").fetch_one(&pool).await.unwrap();
    assert_eq!(evaluating, 20);
}

#[tokio::test]
async fn two_replicas_on_one_schema_close_each_window_once() {
    let p = Publisher::start().await;
    let second = crate::spawn(&p.sut, &p.extra).await;
    let consumer = p.tenant(&tenant());
    let mut ids = Vec::new();
    for _ in 0..30 {
        ids.push(consumer.work("translation.legal").await);
    }
    sqlx::query("UPDATE work SET bid_window_ends_at = now() - interval '1 millisecond'")
        .execute(&p.pool)
        .await
        .unwrap();
    for id in &ids {
        p.wait_closed(id).await;
    }
    for id in &ids {
        assert_eq!(close_events_for(&p.pool, id).await, 1, "{id}");
    }
    second.stop().await;
    p.service.stop().await;
}

#[tokio::test]
async fn a_window_that_ends_while_the_service_is_down_closes_after_restart() {
    let p = Publisher::start().await;
    let consumer = p.tenant(&tenant());
    let mut body = work_body("translation.legal");
    body["bid_window_ms"] = json!(5000);
    let (status, created) = consumer.post("/v1/work", &body).await;
    assert_eq!(status, 201);
    let work_id = created["work_id"].as_str().unwrap().to_string();

    let Publisher { service, sut, tokens, pool, extra } = p;
    service.stop().await;
    aex_testkit::eventually(Duration::from_secs(10), "the deadline to pass while stopped", || async {
        let past: bool = sqlx::query_scalar("SELECT bid_window_ends_at <= clock_timestamp() FROM work WHERE id = $1")
            .bind(&work_id)
            .fetch_one(&pool)
            .await
            .ok()?;
        past.then_some(())
    })
    .await;
    let status: String =
        sqlx::query_scalar("SELECT status FROM work WHERE id = $1").bind(&work_id).fetch_one(&pool).await.unwrap();
    assert_eq!(status, "OPEN", "nothing closed it while the service was down");

    let service = crate::spawn(&sut, &extra).await;
    let p = Publisher { service, sut, tokens, pool, extra };
    p.wait_closed(&work_id).await;
    assert_eq!(close_events_for(&p.pool, &work_id).await, 1);
    // And a restart after the close does not close it again.
    let p = p.restart().await;
    let (status, view) = p.tenant(&tenant()).get(&format!("/v1/work/{work_id}")).await;
    assert_eq!(status, 404, "{view}");
    assert_eq!(close_events_for(&p.pool, &work_id).await, 1);
    p.service.stop().await;
}

/// The real `aex-work-publisher` binary in the test's schema and namespace; killed on drop.
struct Process(std::process::Child);

impl Process {
    fn start(sut: &aex_testkit::ServiceUnderTest, port: u16) -> Self {
        let child = std::process::Command::new(env!("CARGO_BIN_EXE_aex-work-publisher"))
            .env("DATABASE_URL", &sut.database_url)
            .env("AEX_DB_SCHEMA", &sut.schema)
            .env("NATS_URL", &sut.nats_url)
            .env("AEX_NATS_NAMESPACE", &sut.namespace)
            .env("AEX_SERVICE_TOKEN_SECRET", &sut.token_secret)
            .env("AEX_BIND", format!("127.0.0.1:{port}"))
            .env("AEX_LOG_FORMAT", "text")
            .env("RUST_LOG", "warn")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("spawn aex-work-publisher");
        Self(child)
    }

    async fn wait_ready(port: u16) {
        let http = reqwest::Client::new();
        aex_testkit::eventually(Duration::from_secs(30), "the process to be ready", || {
            let http = http.clone();
            async move {
                let response = http.get(format!("http://127.0.0.1:{port}/health/ready")).send().await.ok()?;
                (response.status() == 200).then_some(())
            }
        })
        .await;
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        // SIGKILL: no graceful shutdown.
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test]
async fn a_killed_process_loses_no_window() {
    let p = Publisher::start().await;
    let consumer = p.tenant(&tenant());
    let mut body = work_body("translation.legal");
    body["bid_window_ms"] = json!(5000);
    let (status, created) = consumer.post("/v1/work", &body).await;
    assert_eq!(status, 201);
    let work_id = created["work_id"].as_str().unwrap().to_string();
    let Publisher { service, sut, pool, .. } = p;
    service.stop().await;

    let port = aex_testkit::free_port();
    let process = Process::start(&sut, port);
    Process::wait_ready(port).await;
    drop(process); // SIGKILL while the window is open
    aex_testkit::eventually(Duration::from_secs(10), "the deadline to pass while killed", || async {
        let past: bool = sqlx::query_scalar("SELECT bid_window_ends_at <= clock_timestamp() FROM work WHERE id = $1")
            .bind(&work_id)
            .fetch_one(&pool)
            .await
            .ok()?;
        past.then_some(())
    })
    .await;
    assert_eq!(close_events_for(&pool, &work_id).await, 0);

    let port = aex_testkit::free_port();
    let _process = Process::start(&sut, port);
    aex_testkit::eventually(Duration::from_secs(30), "the restarted process to close the window", || async {
        let status: String =
            sqlx::query_scalar("SELECT status FROM work WHERE id = $1").bind(&work_id).fetch_one(&pool).await.ok()?;
        (status == "EVALUATING").then_some(())
    })
    .await;
    assert_eq!(close_events_for(&pool, &work_id).await, 1);
}
