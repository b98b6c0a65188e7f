//! Database helpers against real Postgres: schema-bound pools, constraint mapping and
//! transparent retry of serialization failures.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use aex_common::db::{self, ConstraintExt, ViolationKind, constraint_violation, retry_on_conflict};
use aex_common::secret::Secret;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

#[derive(Debug, PartialEq)]
enum Error {
    AlreadyAwarded,
    Db(String),
}

impl From<sqlx::Error> for Error {
    fn from(error: sqlx::Error) -> Self {
        Error::Db(error.to_string())
    }
}

async fn pool() -> (sqlx::PgPool, String) {
    aex_testkit::init();
    let schema = aex_testkit::unique_schema("db");
    let pool = db::connect(&Secret::new(aex_testkit::database_url()), &schema, 4).await.unwrap();
    sqlx::raw_sql(
        "CREATE TABLE contracts (
             id TEXT PRIMARY KEY,
             work_id TEXT NOT NULL CONSTRAINT contracts_work_id_key UNIQUE,
             amount BIGINT NOT NULL CONSTRAINT contracts_amount_positive CHECK (amount > 0)
         );
         CREATE TABLE counters (id INT PRIMARY KEY, value BIGINT NOT NULL);
         INSERT INTO counters VALUES (1, 0);",
    )
    .execute(&pool)
    .await
    .unwrap();
    (pool, schema)
}

#[tokio::test]
async fn connect_creates_the_schema_and_binds_unqualified_names_to_it() {
    let (pool, schema) = pool().await;
    let (table_schema,): (String,) =
        sqlx::query_as("SELECT table_schema::text FROM information_schema.tables WHERE table_name = 'contracts' AND table_schema = current_schema()")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(table_schema, schema);
}

#[tokio::test]
async fn hostile_schema_names_are_refused() {
    aex_testkit::init();
    for name in ["public; DROP TABLE x", "Upper", "1abc", "", "a-b"] {
        let result = db::connect(&Secret::new(aex_testkit::database_url()), name, 1).await;
        assert!(matches!(result, Err(db::DbError::InvalidSchema(_))), "{name:?} accepted");
    }
}

#[tokio::test]
async fn named_constraint_violations_map_to_service_errors() {
    let (pool, _) = pool().await;
    let insert = |id: &'static str, work: &'static str, amount: i64| {
        sqlx::query("INSERT INTO contracts (id, work_id, amount) VALUES ($1, $2, $3)")
            .bind(id)
            .bind(work)
            .bind(amount)
            .execute(&pool)
    };
    insert("c1", "w1", 10).await.unwrap();
    let duplicate = insert("c2", "w1", 10).await;
    assert_eq!(
        constraint_violation(duplicate.as_ref().unwrap_err()),
        Some(("contracts_work_id_key", ViolationKind::Unique))
    );
    let mapped: Result<_, Error> =
        insert("c3", "w1", 10).await.on_constraint("contracts_work_id_key", || Error::AlreadyAwarded);
    assert_eq!(mapped.unwrap_err(), Error::AlreadyAwarded);

    // A different constraint is not mistaken for the named one.
    let negative: Result<_, Error> =
        insert("c4", "w4", -1).await.on_constraint("contracts_work_id_key", || Error::AlreadyAwarded);
    assert!(matches!(negative, Err(Error::Db(_))));
    let check = insert("c5", "w5", 0).await;
    assert_eq!(
        constraint_violation(check.as_ref().unwrap_err()),
        Some(("contracts_amount_positive", ViolationKind::Check))
    );
}

/// Increments the counter in a SERIALIZABLE transaction that holds its snapshot long enough
/// for concurrent increments to conflict.
async fn serializable_increment(pool: &sqlx::PgPool, attempts: &AtomicU32) -> Result<(), sqlx::Error> {
    attempts.fetch_add(1, Ordering::SeqCst);
    let mut tx = pool.begin().await?;
    sqlx::query("SET TRANSACTION ISOLATION LEVEL SERIALIZABLE").execute(&mut *tx).await?;
    let (value,): (i64,) = sqlx::query_as("SELECT value FROM counters WHERE id = 1").fetch_one(&mut *tx).await?;
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    sqlx::query("UPDATE counters SET value = $1 WHERE id = 1").bind(value + 1).execute(&mut *tx).await?;
    tx.commit().await
}

#[tokio::test]
async fn serialization_failures_are_retried_until_every_increment_lands() {
    let (pool, _) = pool().await;
    let attempts = Arc::new(AtomicU32::new(0));
    let workers: Vec<_> = (0..4)
        .map(|_| {
            let pool = pool.clone();
            let attempts = attempts.clone();
            tokio::spawn(async move { retry_on_conflict(50, || serializable_increment(&pool, &attempts)).await })
        })
        .collect();
    for worker in workers {
        worker.await.unwrap().expect("retried transparently");
    }
    let (value,): (i64,) = sqlx::query_as("SELECT value FROM counters WHERE id = 1").fetch_one(&pool).await.unwrap();
    assert_eq!(value, 4, "no increment lost");
    assert!(attempts.load(Ordering::SeqCst) > 4, "the workload must actually have conflicted");
}

#[tokio::test]
async fn non_retryable_errors_are_returned_at_once() {
    let (pool, _) = pool().await;
    let attempts = AtomicU32::new(0);
    let result: Result<(), sqlx::Error> = retry_on_conflict(5, || async {
        attempts.fetch_add(1, Ordering::SeqCst);
        sqlx::query("INSERT INTO contracts (id, work_id, amount) VALUES ('x', 'y', -5)")
            .execute(&pool)
            .await
            .map(|_| ())
    })
    .await;
    assert!(result.is_err());
    assert_eq!(attempts.load(Ordering::SeqCst), 1);
}
