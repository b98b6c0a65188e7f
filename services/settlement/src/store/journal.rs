//! The journal: one hash-chained link per committed transfer, and the chain head.

use crate::domain::journal::StoredLink;
use sqlx::{PgConnection, PgPool};

/// Locks the chain head: (last seq, last hash). Held until the batch commits, which orders
/// ledger batches across replicas.
pub async fn lock_head(conn: &mut PgConnection) -> Result<(i64, Vec<u8>), sqlx::Error> {
    sqlx::query_as("SELECT seq, hash FROM journal_head WHERE singleton FOR UPDATE").fetch_one(conn).await
}

pub async fn head(pool: &PgPool) -> Result<(i64, Vec<u8>), sqlx::Error> {
    sqlx::query_as("SELECT seq, hash FROM journal_head WHERE singleton").fetch_one(pool).await
}

/// A link to append: transfer id, sequence, canonical entry and hashes.
#[derive(Debug, Clone)]
pub struct NewLink {
    pub transfer_id: String,
    pub link: StoredLink,
}

/// Appends links and moves the head to the last one, in one statement. The columns are bound
/// as borrowed slices: a batch holds thousands of links.
pub async fn append(conn: &mut PgConnection, links: &[NewLink]) -> Result<(), sqlx::Error> {
    let Some(last) = links.last() else { return Ok(()) };
    sqlx::query(
        "WITH appended AS (
             INSERT INTO journal (seq, transfer_id, entry, prev_hash, hash)
             SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::bytea[], $5::bytea[])
         )
         UPDATE journal_head SET seq = $6, hash = $7 WHERE singleton",
    )
    .bind(links.iter().map(|l| l.link.seq).collect::<Vec<i64>>())
    .bind(links.iter().map(|l| l.transfer_id.as_str()).collect::<Vec<&str>>())
    .bind(links.iter().map(|l| l.link.entry.as_str()).collect::<Vec<&str>>())
    .bind(links.iter().map(|l| l.link.prev_hash.as_slice()).collect::<Vec<&[u8]>>())
    .bind(links.iter().map(|l| l.link.hash.as_slice()).collect::<Vec<&[u8]>>())
    .bind(last.link.seq)
    .bind(last.link.hash.as_slice())
    .execute(conn)
    .await?;
    Ok(())
}

/// Links with `seq > after`, in order, at most `limit`.
pub async fn links_after(pool: &PgPool, after: i64, limit: i64) -> Result<Vec<StoredLink>, sqlx::Error> {
    let rows: Vec<(i64, String, Vec<u8>, Vec<u8>)> =
        sqlx::query_as("SELECT seq, entry, prev_hash, hash FROM journal WHERE seq > $1 ORDER BY seq LIMIT $2")
            .bind(after)
            .bind(limit)
            .fetch_all(pool)
            .await?;
    Ok(rows.into_iter().map(|(seq, entry, prev_hash, hash)| StoredLink { seq, entry, prev_hash, hash }).collect())
}

/// The links of the given transfers, and of each one's predecessor, by sequence.
pub async fn links_around(pool: &PgPool, seqs: &[i64]) -> Result<Vec<StoredLink>, sqlx::Error> {
    let wanted: Vec<i64> = seqs.iter().flat_map(|s| [*s - 1, *s]).collect();
    let rows: Vec<(i64, String, Vec<u8>, Vec<u8>)> =
        sqlx::query_as("SELECT seq, entry, prev_hash, hash FROM journal WHERE seq = ANY($1) ORDER BY seq")
            .bind(&wanted)
            .fetch_all(pool)
            .await?;
    Ok(rows.into_iter().map(|(seq, entry, prev_hash, hash)| StoredLink { seq, entry, prev_hash, hash }).collect())
}

/// A signed journal head.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SignedHead {
    pub seq: i64,
    pub hash: Vec<u8>,
    pub body: String,
    pub signature: String,
    pub key_version: i32,
}

/// Records a signature of the head at `seq` unless one exists.
pub async fn insert_signed_head(pool: &PgPool, head: &SignedHead) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO journal_head_signatures (seq, hash, body, signature, key_version) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (seq) DO NOTHING",
    )
    .bind(head.seq)
    .bind(&head.hash)
    .bind(&head.body)
    .bind(&head.signature)
    .bind(head.key_version)
    .execute(pool)
    .await?;
    Ok(())
}

/// The most recent signed head.
pub async fn latest_signed_head(pool: &PgPool) -> Result<Option<SignedHead>, sqlx::Error> {
    sqlx::query_as(
        "SELECT seq, hash, body, signature, key_version FROM journal_head_signatures ORDER BY seq DESC LIMIT 1",
    )
    .fetch_optional(pool)
    .await
}

/// The hash of the link at `seq`.
pub async fn hash_at(pool: &PgPool, seq: i64) -> Result<Option<Vec<u8>>, sqlx::Error> {
    sqlx::query_scalar("SELECT hash FROM journal WHERE seq = $1").bind(seq).fetch_optional(pool).await
}
