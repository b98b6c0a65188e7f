//! `POST /v1/subscriptions` and `GET /v1/subscriptions`: which categories a provider of the
//! caller's wants to hear about, with filters, and how (signed webhook or polling).

use super::{http_url, known_id, labels, parse_amount, parse_currency};
use crate::AppState;
use crate::error::{Error, Result};
use crate::store::providers;
use crate::store::subscriptions::{self, NewSubscription, SubscriptionRow};
use aex_common::auth::Principal;
use aex_common::server::Json;
use aex_types::{Currency, Money, SubscriptionId};
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::Value;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateSubscription {
    pub provider_id: Option<String>,
    #[serde(default)]
    pub categories: Vec<String>,
    #[serde(default)]
    pub filters: Filters,
    pub delivery: Option<Delivery>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Filters {
    #[serde(default)]
    pub min_budget: Value,
    pub currency: Option<String>,
    pub max_latency_ms: Option<i64>,
    pub regions: Option<Vec<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Delivery {
    pub method: Option<String>,
    pub webhook_url: Option<String>,
    pub webhook_secret: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct SubscriptionView {
    pub subscription_id: String,
    pub provider_id: String,
    pub categories: Vec<String>,
    pub filters: FiltersView,
    pub delivery: DeliveryView,
    pub status: String,
    pub created_at: String,
}

#[derive(Debug, Serialize)]
pub struct FiltersView {
    pub min_budget: Option<String>,
    pub min_budget_minor: Option<i64>,
    pub currency: String,
    pub max_latency_ms: Option<i64>,
    pub regions: Option<Vec<String>>,
}

/// The webhook secret is write-only; one the platform generated is shown once, at creation.
#[derive(Debug, Serialize)]
pub struct DeliveryView {
    pub method: String,
    pub webhook_url: Option<String>,
    pub has_webhook_secret: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub webhook_secret: Option<String>,
}

impl SubscriptionView {
    fn from_row(row: &SubscriptionRow) -> Self {
        let currency: Currency = row.currency.parse().unwrap_or(Currency::DEFAULT);
        Self {
            subscription_id: row.id.clone(),
            provider_id: row.provider_id.clone(),
            categories: row.categories.clone(),
            filters: FiltersView {
                min_budget: row.min_budget_minor.map(|m| Money::from_minor(m, currency).to_decimal_string()),
                min_budget_minor: row.min_budget_minor,
                currency: row.currency.clone(),
                max_latency_ms: row.max_latency_ms,
                regions: row.regions.clone(),
            },
            delivery: DeliveryView {
                method: row.delivery_method.clone(),
                webhook_url: row.webhook_url.clone(),
                has_webhook_secret: row.webhook_secret.is_some(),
                webhook_secret: None,
            },
            status: row.status.clone(),
            created_at: row.created_at.to_string(),
        }
    }
}

/// A category glob: dot-separated segments of `a-z 0-9 _ -`, any of which may hold `*`.
pub fn category_glob(glob: &str) -> Result<String> {
    let glob = glob.trim().to_ascii_lowercase();
    let valid = !glob.is_empty()
        && glob.len() <= 128
        && glob.split('.').all(|segment| {
            !segment.is_empty() && segment.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '*'))
        });
    if valid {
        Ok(glob)
    } else {
        Err(Error::validation("categories entries must be globs like \"translation.*\" or \"*\""))
    }
}

pub async fn create(
    State(state): State<AppState>,
    principal: Principal,
    Json(body): Json<CreateSubscription>,
) -> Result<(StatusCode, Json<SubscriptionView>)> {
    principal.require_scope("providers:write")?;
    let tenant_id = principal.require_tenant()?;
    let new_provider_id =
        body.provider_id.filter(|p| !p.is_empty()).ok_or(Error::validation("provider_id is required"))?;
    if body.categories.is_empty() || body.categories.len() > 32 {
        return Err(Error::validation("categories must hold 1 to 32 globs"));
    }
    let mut categories = Vec::new();
    for glob in &body.categories {
        let glob = category_glob(glob)?;
        if !categories.contains(&glob) {
            categories.push(glob);
        }
    }
    let currency = parse_currency(body.filters.currency.as_deref())?;
    let min_budget_minor = match &body.filters.min_budget {
        Value::Null => None,
        value => Some(parse_amount(value, currency, "filters.min_budget", true)?.minor()),
    };
    if body.filters.max_latency_ms.is_some_and(|ms| ms <= 0) {
        return Err(Error::validation("filters.max_latency_ms must be positive"));
    }
    let regions = match body.filters.regions {
        Some(regions) => Some(labels(regions, "filters.regions", 32, true)?),
        None => None,
    };
    let delivery = body.delivery.ok_or(Error::validation("delivery is required"))?;
    let method = delivery.method.unwrap_or_default();
    let mut generated_secret = None;
    let (webhook_url, webhook_secret) = match method.as_str() {
        "webhook" => {
            let url = delivery.webhook_url.ok_or(Error::validation("delivery.webhook_url is required for webhooks"))?;
            let secret = delivery.webhook_secret.filter(|s| !s.is_empty());
            if secret
                .as_ref()
                .is_some_and(|s| s.len() < 16 || s.len() > 256 || !s.bytes().all(|b| b.is_ascii_graphic()))
            {
                return Err(Error::validation("delivery.webhook_secret must be 16 to 256 visible ASCII characters"));
            }
            // Deliveries are always signed: without a secret of its own, the subscriber gets one.
            let secret = match secret {
                Some(secret) => secret,
                None => {
                    let generated = crate::webhooks::new_secret().map_err(|error| {
                        tracing::error!(%error, "no randomness for a webhook secret");
                        Error::Unavailable
                    })?;
                    generated_secret = Some(generated.clone());
                    generated
                }
            };
            (Some(http_url(&url, "delivery.webhook_url")?), Some(secret))
        }
        "polling" => (None, None),
        _ => return Err(Error::validation("delivery.method must be webhook or polling")),
    };
    // Only the caller's own provider; another tenant's answers as if it did not exist.
    known_id(&new_provider_id, "prov").map_err(|_| Error::ProviderNotFound)?;
    match providers::get(&state.pool, &new_provider_id).await? {
        Some(provider) if provider.tenant_id == tenant_id => {}
        _ => return Err(Error::ProviderNotFound),
    }
    let new = NewSubscription {
        id: SubscriptionId::new().to_string(),
        tenant_id: tenant_id.to_string(),
        provider_id: new_provider_id,
        categories,
        currency: currency.code().to_string(),
        min_budget_minor,
        max_latency_ms: body.filters.max_latency_ms,
        regions,
        delivery_method: method,
        webhook_url,
        webhook_secret,
    };
    let row = subscriptions::insert(&state.pool, &new).await?;
    let mut view = SubscriptionView::from_row(&row);
    view.delivery.webhook_secret = generated_secret;
    Ok((StatusCode::CREATED, Json(view)))
}

#[derive(Debug, Serialize)]
pub struct SubscriptionList {
    pub subscriptions: Vec<SubscriptionView>,
    pub total: usize,
}

pub async fn list(State(state): State<AppState>, principal: Principal) -> Result<Json<SubscriptionList>> {
    let tenant_id = principal.require_tenant()?;
    let rows = subscriptions::for_tenant(&state.pool, tenant_id).await?;
    let subscriptions: Vec<SubscriptionView> = rows.iter().map(SubscriptionView::from_row).collect();
    Ok(Json(SubscriptionList { total: subscriptions.len(), subscriptions }))
}
