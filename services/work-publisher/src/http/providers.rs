//! `POST /v1/providers`, `GET /v1/providers`, `GET /v1/providers/{id}` and
//! `GET /v1/providers/search`. A profile belongs to the tenant whose credentials created it;
//! its name is owned platform-wide by that tenant. Trust is never self-declared.

use super::{email, http_url, known_id, labels, optional_text, required_text, storable_json};
use crate::AppState;
use crate::error::{Error, Result, violated_constraint};
use crate::store::providers::{self, NewProvider, ProviderRow};
use aex_common::auth::Principal;
use aex_common::server::Json;
use aex_types::ProviderId;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Registration body. Unknown fields (`trust_tier`, `trust_score`, `tenant_id`, ...) are
/// ignored: the tenant comes from the token and trust from certauth.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateProvider {
    pub name: Option<String>,
    pub description: Option<String>,
    pub endpoint: Option<String>,
    pub bid_webhook: Option<String>,
    #[serde(default)]
    pub capabilities: Vec<String>,
    pub contact_email: Option<String>,
    #[serde(default)]
    pub metadata: Value,
}

#[derive(Debug, Serialize)]
pub struct Created {
    pub provider_id: String,
    pub name: String,
    pub status: String,
    pub trust_tier: String,
    pub created_at: String,
}

/// A provider as anyone sees it in the directory.
#[derive(Debug, Serialize)]
pub struct PublicView {
    pub provider_id: String,
    pub name: String,
    pub description: String,
    pub endpoint: String,
    pub capabilities: Vec<String>,
    pub status: String,
    pub trust_tier: String,
    pub created_at: String,
}

/// A provider as its owner sees it.
#[derive(Debug, Serialize)]
pub struct OwnerView {
    #[serde(flatten)]
    pub public: PublicView,
    pub tenant_id: String,
    pub bid_webhook: Option<String>,
    pub contact_email: String,
    pub metadata: Value,
    pub updated_at: String,
}

impl PublicView {
    fn from_row(row: &ProviderRow) -> Self {
        Self {
            provider_id: row.id.clone(),
            name: row.name.clone(),
            description: row.description.clone(),
            endpoint: row.endpoint.clone(),
            capabilities: row.capabilities.clone(),
            status: row.status.clone(),
            trust_tier: row.trust_tier.clone(),
            created_at: row.created_at.to_string(),
        }
    }
}

impl OwnerView {
    fn from_row(row: &ProviderRow) -> Self {
        Self {
            public: PublicView::from_row(row),
            tenant_id: row.tenant_id.clone(),
            bid_webhook: row.bid_webhook.clone(),
            contact_email: row.contact_email.clone(),
            metadata: row.metadata.clone(),
            updated_at: row.updated_at.to_string(),
        }
    }
}

fn provider_name(value: Option<String>) -> Result<String> {
    let name = required_text(value, "name", 100)?;
    if !name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, ' ' | '-' | '_' | '.')) {
        return Err(Error::validation("name may hold only letters, digits, spaces, '-', '_' and '.'"));
    }
    Ok(name)
}

pub async fn create(
    State(state): State<AppState>,
    principal: Principal,
    Json(body): Json<CreateProvider>,
) -> Result<(StatusCode, Json<Created>)> {
    principal.require_scope("providers:write")?;
    let tenant_id = principal.require_tenant()?.to_string();
    let name = provider_name(body.name)?;
    let description = optional_text(body.description, "description", 4000)?.unwrap_or_default();
    let endpoint = http_url(&required_text(body.endpoint, "endpoint", 2048)?, "endpoint")?;
    let bid_webhook = match body.bid_webhook.filter(|w| !w.is_empty()) {
        Some(url) => Some(http_url(&url, "bid_webhook")?),
        None => None,
    };
    let capabilities = labels(body.capabilities, "capabilities", 64, true)?;
    let contact_email = email(body.contact_email, "contact_email")?;
    let metadata = match body.metadata {
        Value::Null => Value::Object(Default::default()),
        object @ Value::Object(_) => object,
        _ => return Err(Error::validation("metadata must be an object")),
    };
    storable_json(&metadata, "metadata", 16 * 1024)?;
    let new = NewProvider {
        id: ProviderId::new().to_string(),
        tenant_id: tenant_id.clone(),
        name: name.clone(),
        description,
        endpoint,
        bid_webhook,
        capabilities,
        contact_email,
        metadata,
    };
    let row = match providers::insert(&state.pool, &new).await {
        Ok(row) => row,
        Err(error)
            if matches!(violated_constraint(&error), Some("providers_name_key" | "providers_tenant_name_key")) =>
        {
            // Say whether the caller already has it or another tenant owns it; never overwrite.
            let owner = providers::name_owner(&state.pool, &name).await?;
            return Err(if owner.as_deref() == Some(tenant_id.as_str()) {
                Error::ProviderExists
            } else {
                Error::ProviderNameTaken
            });
        }
        Err(error) => return Err(error.into()),
    };
    Ok((
        StatusCode::CREATED,
        Json(Created {
            provider_id: row.id,
            name: row.name,
            status: row.status,
            trust_tier: row.trust_tier,
            created_at: row.created_at.to_string(),
        }),
    ))
}

#[derive(Debug, Serialize)]
pub struct OwnList {
    pub providers: Vec<OwnerView>,
    pub total: usize,
}

pub async fn list_own(State(state): State<AppState>, principal: Principal) -> Result<Json<OwnList>> {
    let tenant_id = principal.require_tenant()?;
    let rows = providers::for_tenant(&state.pool, tenant_id).await?;
    let providers: Vec<OwnerView> = rows.iter().map(OwnerView::from_row).collect();
    Ok(Json(OwnList { total: providers.len(), providers }))
}

/// The owner sees the whole profile; anyone else the directory entry.
pub async fn get(State(state): State<AppState>, principal: Principal, Path(id): Path<String>) -> Result<Json<Value>> {
    let tenant_id = principal.require_tenant()?;
    known_id(&id, "prov")?;
    let row = providers::get(&state.pool, &id).await?.ok_or(Error::NotFound)?;
    let view = if row.tenant_id == tenant_id {
        serde_json::to_value(OwnerView::from_row(&row))
    } else {
        serde_json::to_value(PublicView::from_row(&row))
    };
    view.map(Json).map_err(|_| Error::NotFound)
}

#[derive(Debug, Deserialize)]
pub struct SearchQuery {
    /// Comma-separated capability tags; a provider matches with any of them.
    pub skill_tags: Option<String>,
    /// A tier (`SILVER`) or a score in [0, 1] mapped to its tier.
    pub min_trust: Option<String>,
    pub limit: Option<i64>,
    pub offset: Option<i64>,
}

#[derive(Debug, Serialize)]
pub struct SearchResult {
    pub providers: Vec<PublicView>,
    pub total: usize,
}

const TIERS: [&str; 4] = ["BRONZE", "SILVER", "GOLD", "PLATINUM"];

/// The tiers at or above `min_trust`.
fn tiers_at_least(min_trust: Option<&str>) -> Result<Vec<String>> {
    let invalid = || Error::validation("min_trust must be a tier (BRONZE, SILVER, GOLD, PLATINUM) or a score 0 to 1");
    let floor = match min_trust.map(str::trim).filter(|t| !t.is_empty()) {
        None => 0,
        Some(text) => match TIERS.iter().position(|t| t.eq_ignore_ascii_case(text)) {
            Some(index) => index,
            None => {
                let score: f64 = text.parse().map_err(|_| invalid())?;
                if !(0.0..=1.0).contains(&score) {
                    return Err(invalid());
                }
                // The reputation tier thresholds of ARCHITECTURE.md §8.
                [0.5, 0.75, 0.9].iter().filter(|threshold| score >= **threshold).count()
            }
        },
    };
    Ok(TIERS[floor..].iter().map(|t| t.to_string()).collect())
}

pub async fn search(
    State(state): State<AppState>,
    principal: Principal,
    Query(query): Query<SearchQuery>,
) -> Result<Json<SearchResult>> {
    principal.require_tenant()?;
    let limit = query.limit.unwrap_or(20);
    if !(1..=100).contains(&limit) {
        return Err(Error::validation("limit must be between 1 and 100"));
    }
    let offset = query.offset.unwrap_or(0);
    if offset < 0 {
        return Err(Error::validation("offset must not be negative"));
    }
    let tags: Vec<String> = query
        .skill_tags
        .as_deref()
        .unwrap_or("")
        .split(',')
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(str::to_string)
        .collect();
    let tags = labels(tags, "skill_tags", 32, true)?;
    let tiers = tiers_at_least(query.min_trust.as_deref())?;
    let (rows, total) = providers::search(&state.pool, &tags, &tiers, limit, offset).await?;
    let providers: Vec<PublicView> = rows.iter().map(PublicView::from_row).collect();
    Ok(Json(SearchResult { total: usize::try_from(total).unwrap_or(0), providers }))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::tiers_at_least;

    #[test]
    fn min_trust_reads_tiers_and_scores() {
        assert_eq!(tiers_at_least(None).unwrap().len(), 4);
        assert_eq!(tiers_at_least(Some("gold")).unwrap(), vec!["GOLD", "PLATINUM"]);
        assert_eq!(tiers_at_least(Some("0.8")).unwrap(), vec!["GOLD", "PLATINUM"]);
        assert_eq!(tiers_at_least(Some("0.95")).unwrap(), vec!["PLATINUM"]);
        assert_eq!(tiers_at_least(Some("0")).unwrap().len(), 4);
        assert!(tiers_at_least(Some("1.5")).is_err());
        assert!(tiers_at_least(Some("NaN")).is_err());
        assert!(tiers_at_least(Some("DIAMOND")).is_err());
    }
}
