//! `POST /v1/work`, `GET /v1/work`, `GET /v1/work/{id}` and `POST /v1/work/{id}/cancel`.
//! A consumer sees its own work; a provider tenant also sees OPEN work its subscriptions
//! match (filters applied), never anyone's bids.

use super::{Page, known_id, labels, parse_amount, parse_currency, required_text, storable_json};
use crate::AppState;
use crate::domain::work::WorkStatus;
use crate::error::{Error, Result};
use crate::service;
use crate::store::bids;
use crate::store::subscriptions::{self, SubscriptionRow};
use crate::store::work::{self, NewWork, WorkRow};
use aex_common::auth::Principal;
use aex_common::server::Json;
use aex_types::{Money, WorkId};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

pub const MIN_WINDOW_MS: i64 = 5_000;
pub const MAX_WINDOW_MS: i64 = 300_000;
pub const DEFAULT_WINDOW_MS: i64 = 30_000;
const STRATEGIES: [&str; 3] = ["balanced", "lowest_price", "best_quality"];
const TIERS: [&str; 4] = ["BRONZE", "SILVER", "GOLD", "PLATINUM"];
/// OPEN work matched against a provider's subscriptions per listing.
const OPEN_CANDIDATES: i64 = 1_000;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubmitWork {
    pub category: Option<String>,
    pub description: Option<String>,
    pub budget: Option<Budget>,
    #[serde(default)]
    pub constraints: Option<Constraints>,
    #[serde(default)]
    pub success_criteria: Vec<Value>,
    pub bid_window_ms: Option<i64>,
    #[serde(default)]
    pub auto_award: bool,
    #[serde(default)]
    pub payload: Value,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Budget {
    #[serde(default)]
    pub max_price: Value,
    pub currency: Option<String>,
    pub bid_strategy: Option<String>,
    #[serde(default)]
    pub max_cpa_bonus: Value,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Constraints {
    pub max_latency_ms: Option<i64>,
    pub required_fields: Option<Vec<String>>,
    pub min_trust_tier: Option<String>,
    pub required_capabilities: Option<Vec<String>>,
    #[serde(default)]
    pub internal_only: bool,
    pub regions: Option<Vec<String>>,
}

#[derive(Debug, Serialize)]
pub struct Submitted {
    pub work_id: String,
    pub status: String,
    pub bid_window_ends_at: String,
    pub providers_notified: i32,
    pub created_at: String,
}

#[derive(Debug, Serialize)]
pub struct BudgetView {
    pub max_price: String,
    pub max_price_minor: i64,
    pub currency: String,
    pub bid_strategy: String,
    pub max_cpa_bonus: Option<String>,
}

/// A unit of work as the consumer and matched providers see it; never with bids.
#[derive(Debug, Serialize)]
pub struct WorkView {
    pub work_id: String,
    pub consumer_tenant_id: String,
    pub category: String,
    pub description: String,
    pub status: String,
    pub budget: BudgetView,
    pub constraints: Value,
    pub success_criteria: Value,
    pub payload: Value,
    pub auto_award: bool,
    pub bid_window_ms: i32,
    pub bid_window_ends_at: String,
    pub providers_notified: i32,
    pub created_at: String,
    pub updated_at: String,
    pub closed_at: Option<String>,
    pub cancelled_at: Option<String>,
}

impl WorkView {
    pub fn from_row(row: &WorkRow) -> Self {
        let currency = row.currency;
        let text = |minor: i64| Money::from_minor(minor, currency).to_decimal_string();
        Self {
            work_id: row.id.clone(),
            consumer_tenant_id: row.tenant_id.clone(),
            category: row.category.clone(),
            description: row.description.clone(),
            status: row.status.clone(),
            budget: BudgetView {
                max_price: text(row.max_price_minor),
                max_price_minor: row.max_price_minor,
                currency: currency.code().to_string(),
                bid_strategy: row.bid_strategy.clone(),
                max_cpa_bonus: row.max_cpa_bonus_minor.map(text),
            },
            constraints: row.constraints.clone(),
            success_criteria: row.success_criteria.clone(),
            payload: row.payload.clone(),
            auto_award: row.auto_award,
            bid_window_ms: row.bid_window_ms,
            bid_window_ends_at: row.bid_window_ends_at.to_string(),
            providers_notified: row.providers_notified,
            created_at: row.created_at.to_string(),
            updated_at: row.updated_at.to_string(),
            closed_at: row.closed_at.map(|t| t.to_string()),
            cancelled_at: row.cancelled_at.map(|t| t.to_string()),
        }
    }
}

/// A concrete category: dot-separated segments of `a-z 0-9 _ -`.
fn category(value: Option<String>) -> Result<String> {
    let text = required_text(value, "category", 128)?.to_ascii_lowercase();
    let valid = text
        .split('.')
        .all(|s| !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-')));
    if valid {
        Ok(text)
    } else {
        Err(Error::validation("category must be dot-separated words like \"translation.legal\""))
    }
}

/// Validates a submission into the row to insert (window bounded, money exact).
pub fn validate(tenant_id: &str, body: SubmitWork) -> Result<NewWork> {
    let category = category(body.category)?;
    let description = required_text(body.description, "description", 10_000)?;
    let budget = body.budget.ok_or(Error::validation("budget is required"))?;
    let currency = parse_currency(budget.currency.as_deref())?;
    let max_price = parse_amount(&budget.max_price, currency, "budget.max_price", false)?;
    let max_cpa_bonus = match &budget.max_cpa_bonus {
        Value::Null => None,
        value => Some(parse_amount(value, currency, "budget.max_cpa_bonus", true)?),
    };
    let bid_strategy = budget.bid_strategy.unwrap_or_else(|| "balanced".to_string());
    if !STRATEGIES.contains(&bid_strategy.as_str()) {
        return Err(Error::validation("budget.bid_strategy must be balanced, lowest_price or best_quality"));
    }
    let c = body.constraints.unwrap_or_default();
    if c.max_latency_ms.is_some_and(|ms| ms <= 0) {
        return Err(Error::validation("constraints.max_latency_ms must be positive"));
    }
    let min_trust_tier = match c.min_trust_tier {
        Some(tier) => {
            let tier = tier.to_ascii_uppercase();
            if !TIERS.contains(&tier.as_str()) {
                return Err(Error::validation("constraints.min_trust_tier must be BRONZE, SILVER, GOLD or PLATINUM"));
            }
            Some(tier)
        }
        None => None,
    };
    let required_fields = c.required_fields.map(|f| labels(f, "constraints.required_fields", 64, false)).transpose()?;
    let required_capabilities =
        c.required_capabilities.map(|f| labels(f, "constraints.required_capabilities", 64, true)).transpose()?;
    let regions = c.regions.map(|r| labels(r, "constraints.regions", 32, true)).transpose()?;
    let mut constraints = Map::new();
    constraints.insert("max_latency_ms".into(), c.max_latency_ms.into());
    constraints.insert("required_fields".into(), required_fields.clone().into());
    constraints.insert("min_trust_tier".into(), min_trust_tier.into());
    constraints.insert("required_capabilities".into(), required_capabilities.into());
    constraints.insert("internal_only".into(), c.internal_only.into());
    constraints.insert("regions".into(), regions.clone().into());
    if body.success_criteria.len() > 50 {
        return Err(Error::validation("success_criteria holds at most 50 entries"));
    }
    let success_criteria = Value::Array(body.success_criteria);
    storable_json(&success_criteria, "success_criteria", 32 * 1024)?;
    storable_json(&body.payload, "payload", 256 * 1024)?;
    let window = body.bid_window_ms.unwrap_or(DEFAULT_WINDOW_MS);
    if !(MIN_WINDOW_MS..=MAX_WINDOW_MS).contains(&window) {
        return Err(Error::validation(format!("bid_window_ms must be between {MIN_WINDOW_MS} and {MAX_WINDOW_MS}")));
    }
    Ok(NewWork {
        id: WorkId::new().to_string(),
        tenant_id: tenant_id.to_string(),
        category,
        description,
        currency,
        max_price_minor: max_price.minor(),
        bid_strategy,
        max_cpa_bonus_minor: max_cpa_bonus.map(|m| m.minor()),
        constraints: Value::Object(constraints),
        max_latency_ms: c.max_latency_ms,
        regions,
        success_criteria,
        payload: body.payload,
        auto_award: body.auto_award,
        bid_window_ms: i32::try_from(window).unwrap_or(DEFAULT_WINDOW_MS as i32),
        providers_notified: 0,
    })
}

pub async fn submit(
    State(state): State<AppState>,
    principal: Principal,
    Json(body): Json<SubmitWork>,
) -> Result<(StatusCode, Json<Submitted>)> {
    principal.require_scope("work:submit")?;
    let tenant_id = principal.require_tenant()?;
    let new = validate(tenant_id, body)?;
    let row = service::submit_work(&state.pool, new).await?;
    Ok((
        StatusCode::CREATED,
        Json(Submitted {
            work_id: row.id,
            status: row.status,
            bid_window_ends_at: row.bid_window_ends_at.to_string(),
            providers_notified: row.providers_notified,
            created_at: row.created_at.to_string(),
        }),
    ))
}

#[derive(Debug, Deserialize)]
pub struct ListQuery {
    pub status: Option<String>,
    pub limit: Option<i64>,
    pub offset: Option<i64>,
}

#[derive(Debug, Serialize)]
pub struct WorkList {
    pub work: Vec<WorkView>,
    pub total: i64,
    pub limit: i64,
    pub offset: i64,
}

fn matches_any(subscriptions: &[SubscriptionRow], row: &WorkRow) -> bool {
    subscriptions.iter().any(|s| s.filter().matches(&row.facts()))
}

/// The caller's own work; with `status=OPEN` also the open work of others that the caller's
/// subscriptions match (the polling feed of a provider).
pub async fn list(
    State(state): State<AppState>,
    principal: Principal,
    Query(query): Query<ListQuery>,
) -> Result<Json<WorkList>> {
    let tenant_id = principal.require_tenant()?;
    let (limit, offset) = Page { limit: query.limit, offset: query.offset }.bounds()?;
    let status = match query.status.as_deref().map(str::to_ascii_uppercase) {
        None => None,
        Some(text) => Some(
            text.parse::<WorkStatus>().map_err(|()| Error::validation("status must be a work status such as OPEN"))?,
        ),
    };
    if status != Some(WorkStatus::Open) {
        let (rows, total) =
            work::for_tenant(&state.pool, tenant_id, status.map(WorkStatus::as_str), limit, offset).await?;
        return Ok(Json(WorkList { work: rows.iter().map(WorkView::from_row).collect(), total, limit, offset }));
    }
    // Own open work first, then matched open work of others; paginated over the union.
    let (own, _) = work::for_tenant(&state.pool, tenant_id, Some("OPEN"), 200, 0).await?;
    let subscriptions = subscriptions::for_tenant(&state.pool, tenant_id).await?;
    let mut rows = own;
    if !subscriptions.is_empty() {
        let others = work::open_of_others(&state.pool, tenant_id, OPEN_CANDIDATES).await?;
        rows.extend(others.into_iter().filter(|row| matches_any(&subscriptions, row)));
    }
    let total = i64::try_from(rows.len()).unwrap_or(i64::MAX);
    let page = rows
        .iter()
        .skip(usize::try_from(offset).unwrap_or(usize::MAX))
        .take(usize::try_from(limit).unwrap_or(0))
        .map(WorkView::from_row)
        .collect();
    Ok(Json(WorkList { work: page, total, limit, offset }))
}

/// Whether `tenant_id` may see `row`: its owner, a provider tenant whose subscriptions match it
/// while it is OPEN, or a tenant that bid on it.
pub async fn visible_to(state: &AppState, tenant_id: &str, row: &WorkRow) -> Result<bool> {
    if row.tenant_id == tenant_id {
        return Ok(true);
    }
    if row.status == WorkStatus::Open.as_str() {
        let subscriptions = subscriptions::for_tenant(&state.pool, tenant_id).await?;
        if matches_any(&subscriptions, row) {
            return Ok(true);
        }
    }
    Ok(!bids::for_work_and_tenant(&state.pool, &row.id, tenant_id).await?.is_empty())
}

pub async fn get(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> Result<Json<WorkView>> {
    let tenant_id = principal.require_tenant()?;
    known_id(&id, "work")?;
    let row = work::get(&state.pool, &id).await?.ok_or(Error::NotFound)?;
    if !visible_to(&state, tenant_id, &row).await? {
        return Err(Error::NotFound);
    }
    Ok(Json(WorkView::from_row(&row)))
}

/// Cancels the owner's work from OPEN or EVALUATING; anything else is 409 `INVALID_WORK_STATE`.
pub async fn cancel(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> Result<Json<WorkView>> {
    principal.require_scope("work:submit")?;
    let tenant_id = principal.require_tenant()?;
    known_id(&id, "work")?;
    let row = service::cancel_work(&state.pool, tenant_id, &id).await?;
    Ok(Json(WorkView::from_row(&row)))
}
