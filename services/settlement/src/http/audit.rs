//! `GET /v1/audit/journal` (export) and `GET /v1/audit/journal/verify` (full re-verification),
//! operator only.

use crate::AppState;
use crate::domain::journal::{GENESIS, verify_links};
use crate::error::{Error, Result};
use crate::store::{audit, journal};
use aex_common::auth::Principal;
use aex_common::server::Json;
use axum::extract::{Query, State};
use serde::{Deserialize, Serialize};

#[derive(Debug, Deserialize)]
pub struct ExportQuery {
    pub after: Option<i64>,
    pub limit: Option<i64>,
}

#[derive(Debug, Serialize)]
pub struct ExportedLink {
    pub seq: i64,
    /// The canonical (RFC 8785) entry exactly as hashed.
    pub entry: String,
    pub prev_hash: String,
    pub hash: String,
}

#[derive(Debug, Serialize)]
pub struct Export {
    pub genesis_hash: String,
    pub head_seq: i64,
    pub head_hash: String,
    pub links: Vec<ExportedLink>,
    pub next_after: Option<i64>,
}

pub async fn export(
    State(state): State<AppState>,
    principal: Principal,
    Query(query): Query<ExportQuery>,
) -> Result<Json<Export>> {
    principal.require_scope("admin")?;
    let after = query.after.unwrap_or(0);
    let limit = query.limit.unwrap_or(1000);
    if after < 0 || !(1..=10_000).contains(&limit) {
        return Err(Error::validation("after must be >= 0 and limit between 1 and 10000"));
    }
    let (head_seq, head_hash) = journal::head(&state.pool).await?;
    let links = journal::links_after(&state.pool, after, limit).await?;
    let next_after = links.last().map(|l| l.seq).filter(|seq| *seq < head_seq);
    Ok(Json(Export {
        genesis_hash: hex::encode(GENESIS),
        head_seq,
        head_hash: hex::encode(head_hash),
        links: links
            .into_iter()
            .map(|l| ExportedLink {
                seq: l.seq,
                entry: l.entry,
                prev_hash: hex::encode(l.prev_hash),
                hash: hex::encode(l.hash),
            })
            .collect(),
        next_after,
    }))
}

#[derive(Debug, Serialize)]
pub struct Verification {
    pub valid: bool,
    pub entries_checked: i64,
    pub head_seq: i64,
    pub first_break: Option<Break>,
    pub accounts_checked: i64,
    pub balance_mismatches: Vec<String>,
}

#[derive(Debug, Serialize)]
pub struct Break {
    pub seq: i64,
    pub reason: String,
}

pub async fn verify(State(state): State<AppState>, principal: Principal) -> Result<Json<Verification>> {
    principal.require_scope("admin")?;
    Ok(Json(verify_ledger(&state.pool).await?))
}

/// Re-verifies the whole chain, each link against its stored transfer, the head, and every
/// account's totals against the sum of its transfers.
pub async fn verify_ledger(pool: &sqlx::PgPool) -> Result<Verification> {
    const PAGE: i64 = 5_000;
    let (head_seq, head_hash) = journal::head(pool).await?;
    let mut last_seq = 0;
    let mut last_hash = GENESIS.to_vec();
    let mut first_break = None;
    loop {
        let links = journal::links_after(pool, last_seq, PAGE).await?;
        if links.is_empty() {
            break;
        }
        match verify_links(last_seq, &last_hash, &links) {
            Ok((seq, hash)) => {
                last_seq = seq;
                last_hash = hash;
            }
            Err(chain_break) => {
                first_break = Some(Break { seq: chain_break.seq, reason: chain_break.reason.to_string() });
                break;
            }
        }
    }
    if first_break.is_none() && (last_seq != head_seq || last_hash != head_hash) {
        first_break = Some(Break { seq: last_seq + 1, reason: "chain ends before the recorded head".into() });
    }
    if first_break.is_none()
        && let Some(seq) = audit::first_link_not_matching_transfer(pool).await?
    {
        first_break = Some(Break { seq, reason: "entry does not match the stored transfer".into() });
    }
    let (accounts_checked, balance_mismatches) = audit::balance_mismatches(pool).await?;
    Ok(Verification {
        valid: first_break.is_none() && balance_mismatches.is_empty(),
        entries_checked: last_seq,
        head_seq,
        first_break,
        accounts_checked,
        balance_mismatches,
    })
}
