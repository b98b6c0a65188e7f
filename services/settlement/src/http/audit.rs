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
    /// The latest signed head: `body` is the canonical JSON that `signature` signs with the
    /// receipt key of `key_version` (published at `/v1/receipts/keys`).
    pub signed_head: Option<SignedHeadView>,
    pub links: Vec<ExportedLink>,
    pub next_after: Option<i64>,
}

#[derive(Debug, Serialize)]
pub struct SignedHeadView {
    pub seq: i64,
    pub body: String,
    pub signature: String,
    pub key_version: i32,
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
    let signed_head = journal::latest_signed_head(&state.pool).await?.map(|h| SignedHeadView {
        seq: h.seq,
        body: h.body,
        signature: h.signature,
        key_version: h.key_version,
    });
    Ok(Json(Export {
        genesis_hash: hex::encode(GENESIS),
        head_seq,
        head_hash: hex::encode(head_hash),
        signed_head,
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
    /// The latest signed head that was checked against the chain, if any.
    pub signed_head_seq: Option<i64>,
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
    let signed = journal::latest_signed_head(pool).await?;
    if first_break.is_none()
        && let Some(head) = &signed
        && let Some(reason) = signed_head_problem(pool, head).await?
    {
        first_break = Some(Break { seq: head.seq, reason: reason.into() });
    }
    let (accounts_checked, balance_mismatches) = audit::balance_mismatches(pool).await?;
    // Incremented by 0 on a clean run, so the series exist before the first failure.
    metrics::counter!("aex_ledger_check_failures_total", "check" => "journal")
        .increment(u64::from(first_break.is_some()));
    metrics::counter!("aex_ledger_check_failures_total", "check" => "balances")
        .increment(u64::from(!balance_mismatches.is_empty()));
    Ok(Verification {
        signed_head_seq: signed.map(|h| h.seq),
        valid: first_break.is_none() && balance_mismatches.is_empty(),
        entries_checked: last_seq,
        head_seq,
        first_break,
        accounts_checked,
        balance_mismatches,
    })
}

/// `GET /v1/audit/deals/{contract_id}/replay`: the deal's transfers, each checked against its
/// journal link and that link's predecessor, and the deal's effect on each account replayed
/// from the transfers and compared with the settlement record.
#[derive(Debug, Serialize)]
pub struct DealReplay {
    pub contract_id: String,
    pub status: String,
    pub chain_valid: bool,
    pub chain_errors: Vec<Break>,
    pub entries: Vec<crate::http::transfers::TransferView>,
    /// Net effect of the deal per account, in minor units (credit positive).
    pub balances: std::collections::BTreeMap<String, i64>,
    pub consistent: bool,
    pub inconsistencies: Vec<String>,
}

pub async fn replay_deal(
    State(state): State<AppState>,
    principal: Principal,
    axum::extract::Path(contract_id): axum::extract::Path<String>,
) -> Result<Json<DealReplay>> {
    let settlement = crate::store::settlements::get(&state.pool, &contract_id).await?.ok_or(Error::NotFound)?;
    let party = principal
        .tenant_id
        .as_deref()
        .is_some_and(|t| t == settlement.consumer_tenant_id || t == settlement.provider_tenant_id);
    if !(party || principal.is_admin()) {
        return Err(Error::NotFound);
    }
    let transfers = crate::store::transfers::for_reference(&state.pool, &contract_id).await?;
    let seqs: Vec<i64> = transfers.iter().map(|t| t.journal_seq).collect();
    let links = journal::links_around(&state.pool, &seqs).await?;
    let by_seq: std::collections::HashMap<i64, &crate::domain::journal::StoredLink> =
        links.iter().map(|l| (l.seq, l)).collect();

    let mut chain_errors = Vec::new();
    for transfer in &transfers {
        let seq = transfer.journal_seq;
        let Some(link) = by_seq.get(&seq) else {
            chain_errors.push(Break { seq, reason: "journal entry missing".into() });
            continue;
        };
        let previous = if seq == 1 { Some(GENESIS.to_vec()) } else { by_seq.get(&(seq - 1)).map(|l| l.hash.clone()) };
        if let Err(chain_break) = verify_links(seq - 1, previous.as_deref().unwrap_or(&[]), std::slice::from_ref(*link))
        {
            chain_errors.push(Break { seq: chain_break.seq, reason: chain_break.reason.to_string() });
        }
        let entry: serde_json::Value = serde_json::from_str(&link.entry).unwrap_or_default();
        if entry["transfer_id"] != transfer.id.as_str() || entry["amount_minor"] != transfer.amount.to_string().as_str()
        {
            chain_errors.push(Break { seq, reason: "entry does not match the stored transfer".into() });
        }
    }

    let mut balances: std::collections::BTreeMap<String, i64> = std::collections::BTreeMap::new();
    for transfer in transfers.iter().filter(|t| t.kind == "posted" || t.kind == "post_pending") {
        *balances.entry(transfer.debit_account_id.clone()).or_default() -= transfer.amount;
        *balances.entry(transfer.credit_account_id.clone()).or_default() += transfer.amount;
    }
    let mut inconsistencies = Vec::new();
    if balances.values().sum::<i64>() != 0 {
        inconsistencies.push("the deal's debits and credits differ".to_string());
    }
    if settlement.status == crate::domain::escrow::SettlementStatus::Settled {
        let parts = [settlement.platform_fee_minor, settlement.protocol_fee_minor, settlement.payout_minor];
        let split: i64 = parts.iter().map(|p| p.unwrap_or(0)).sum();
        if split != settlement.price_minor {
            inconsistencies.push(format!("payout and fees sum to {split}, not the price {}", settlement.price_minor));
        }
        let paid_out: i64 = transfers.iter().filter(|t| t.kind == "posted").map(|t| t.amount).sum();
        if paid_out != settlement.price_minor {
            inconsistencies.push(format!("escrow paid out {paid_out}, not the price {}", settlement.price_minor));
        }
    }
    metrics::counter!("aex_ledger_check_failures_total", "check" => "deal_replay")
        .increment(u64::from(!(chain_errors.is_empty() && inconsistencies.is_empty())));
    let entries = transfers.iter().map(|t| crate::http::transfers::TransferView::from_row(t, &t.code)).collect();
    Ok(Json(DealReplay {
        contract_id,
        status: settlement.status.as_str().to_string(),
        chain_valid: chain_errors.is_empty(),
        chain_errors,
        entries,
        balances,
        consistent: inconsistencies.is_empty(),
        inconsistencies,
    }))
}

/// `GET /v1/audit/agents/{provider_id}/revenue`: a provider's income, deal by deal.
#[derive(Debug, Serialize)]
pub struct Revenue {
    pub provider_id: String,
    pub deals: i64,
    pub gross_minor: i64,
    pub platform_fees_minor: i64,
    pub protocol_fees_minor: i64,
    pub net_minor: i64,
    pub items: Vec<RevenueItem>,
    pub limit: i64,
    pub offset: i64,
}

#[derive(Debug, Serialize)]
pub struct RevenueItem {
    pub contract_id: String,
    pub currency: String,
    pub credit_minor: i64,
    pub debit_minor: i64,
    pub platform_fee_minor: i64,
    pub protocol_fee_minor: i64,
    pub net_minor: i64,
    pub tier: Option<String>,
    pub settled_at: Option<String>,
}

pub async fn agent_revenue(
    State(state): State<AppState>,
    principal: Principal,
    axum::extract::Path(provider_id): axum::extract::Path<String>,
    Query(page): Query<crate::http::Page>,
) -> Result<Json<Revenue>> {
    let owner = crate::store::settlements::provider_tenant(&state.pool, &provider_id).await?;
    let allowed = principal.is_admin() || (owner.is_some() && owner.as_deref() == principal.tenant_id.as_deref());
    if !allowed {
        return Err(Error::NotFound);
    }
    let (limit, offset) = page.bounds()?;
    let rows = crate::store::settlements::settled_for_provider(&state.pool, &provider_id, limit, offset).await?;
    let (deals, gross, platform, protocol, net) =
        crate::store::settlements::provider_totals(&state.pool, &provider_id).await?;
    let items = rows
        .iter()
        .map(|row| {
            let platform_fee = row.platform_fee_minor.unwrap_or(0);
            let protocol_fee = row.protocol_fee_minor.unwrap_or(0);
            RevenueItem {
                contract_id: row.contract_id.clone(),
                currency: row.currency.code().to_string(),
                credit_minor: row.price_minor,
                debit_minor: platform_fee + protocol_fee,
                platform_fee_minor: platform_fee,
                protocol_fee_minor: protocol_fee,
                net_minor: row.payout_minor.unwrap_or(0),
                tier: row.tier.clone(),
                settled_at: row.settled_at.map(|t| t.to_string()),
            }
        })
        .collect();
    Ok(Json(Revenue {
        provider_id,
        deals,
        gross_minor: gross,
        platform_fees_minor: platform,
        protocol_fees_minor: protocol,
        net_minor: net,
        items,
        limit,
        offset,
    }))
}

/// Why a signed head does not vouch for the stored chain, if it does not.
async fn signed_head_problem(pool: &sqlx::PgPool, head: &journal::SignedHead) -> Result<Option<&'static str>> {
    let key = crate::store::receipts::public_keys(pool)
        .await?
        .into_iter()
        .find(|(version, _, _)| *version == head.key_version)
        .and_then(|(_, pem, _)| {
            <p256::ecdsa::VerifyingKey as p256::pkcs8::DecodePublicKey>::from_public_key_pem(&pem).ok()
        });
    let Some(key) = key else { return Ok(Some("signed head names an unknown key")) };
    let fields: crate::domain::receipt::ReceiptFields = serde_json::from_str(&head.body).unwrap_or_default();
    if !crate::domain::receipt::verify(&fields, &head.signature, &key)
        || fields.get("hash") != Some(&hex::encode(&head.hash))
    {
        return Ok(Some("signed head signature does not verify"));
    }
    match journal::hash_at(pool, head.seq).await? {
        Some(hash) if hash == head.hash => Ok(None),
        _ => Ok(Some("the chain no longer ends where it was signed")),
    }
}
