//! A2A agent cards: `POST /v1/providers/{id}/agent-card` publishes the caller's own provider's
//! card; `GET /v1/providers/{id}/a2a` returns it to any authenticated caller, or, before one
//! is published, a card derived from the provider profile. Skill ids and tags feed the skill
//! index that `GET /v1/providers/search?skill_tags=` reads.

use super::{http_url, known_id, labels, optional_text, required_text, storable_json};
use crate::AppState;
use crate::error::{Error, Result};
use crate::store::agent_cards;
use crate::store::providers::{self, ProviderRow};
use aex_common::auth::Principal;
use aex_common::server::Json;
use axum::extract::{Path, State};
use serde::Deserialize;
use serde_json::{Value, json};

#[derive(Debug, Deserialize)]
pub struct Skill {
    pub id: Option<String>,
    pub name: Option<String>,
    pub description: Option<String>,
    #[serde(default)]
    pub tags: Vec<String>,
    #[serde(default)]
    pub examples: Vec<String>,
}

/// The card as an A2A client publishes it (camelCase fields of the A2A specification).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CardBody {
    pub name: Option<String>,
    pub description: Option<String>,
    pub url: Option<String>,
    pub version: Option<String>,
    #[serde(default)]
    pub capabilities: Value,
    #[serde(default)]
    pub default_input_modes: Vec<String>,
    #[serde(default)]
    pub default_output_modes: Vec<String>,
    #[serde(default)]
    pub skills: Vec<Skill>,
    #[serde(default)]
    pub provider: Value,
}

/// The card to store and its skill tags (ids and tags, lower-cased).
fn validate(body: CardBody) -> Result<(Value, Vec<String>)> {
    let name = required_text(body.name, "name", 100)?;
    let description = optional_text(body.description, "description", 2_000)?.unwrap_or_default();
    let url = http_url(&required_text(body.url, "url", 2048)?, "url")?;
    let version = optional_text(body.version, "version", 32)?.unwrap_or_else(|| "1.0.0".to_string());
    if body.skills.is_empty() || body.skills.len() > 64 {
        return Err(Error::validation("skills must hold 1 to 64 entries"));
    }
    let capabilities = match body.capabilities {
        Value::Null => json!({}),
        value @ Value::Object(_) => value,
        _ => return Err(Error::validation("capabilities must be an object")),
    };
    let provider = match body.provider {
        Value::Null => Value::Null,
        value @ Value::Object(_) => value,
        _ => return Err(Error::validation("provider must be an object")),
    };
    let input_modes = labels(body.default_input_modes, "defaultInputModes", 16, false)?;
    let output_modes = labels(body.default_output_modes, "defaultOutputModes", 16, false)?;
    let mut tags = Vec::new();
    let mut skills = Vec::with_capacity(body.skills.len());
    for (index, skill) in body.skills.into_iter().enumerate() {
        let field = format!("skills[{index}]");
        let id = required_text(skill.id, &format!("{field}.id"), 128)?;
        let skill_name = required_text(skill.name, &format!("{field}.name"), 128)?;
        let skill_tags = labels(skill.tags, &format!("{field}.tags"), 32, true)?;
        let examples: Vec<String> = skill.examples.into_iter().take(16).collect();
        for example in &examples {
            optional_text(Some(example.clone()), &format!("{field}.examples"), 1_000)?;
        }
        tags.extend(labels(vec![id.clone()], &format!("{field}.id"), 1, true)?);
        tags.extend(skill_tags.iter().cloned());
        skills.push(json!({
            "id": id,
            "name": skill_name,
            "description": optional_text(skill.description, &format!("{field}.description"), 2_000)?,
            "tags": skill_tags,
            "examples": examples,
        }));
    }
    tags.sort();
    tags.dedup();
    let card = json!({
        "name": name,
        "description": description,
        "url": url,
        "version": version,
        "capabilities": capabilities,
        "defaultInputModes": if input_modes.is_empty() { vec!["application/json".to_string()] } else { input_modes },
        "defaultOutputModes": if output_modes.is_empty() { vec!["application/json".to_string()] } else { output_modes },
        "skills": skills,
        "provider": provider,
    });
    storable_json(&card, "agent card", 64 * 1024)?;
    Ok((card, tags))
}

/// The card a provider has before it publishes one: its profile in A2A form.
fn derived_card(provider: &ProviderRow) -> Value {
    let skills: Vec<Value> = provider
        .capabilities
        .iter()
        .map(|c| json!({ "id": c, "name": c, "description": null, "tags": [c], "examples": [] }))
        .collect();
    json!({
        "name": provider.name,
        "description": provider.description,
        "url": provider.endpoint,
        "version": "1.0.0",
        "capabilities": {},
        "defaultInputModes": ["application/json"],
        "defaultOutputModes": ["application/json"],
        "skills": skills,
        "provider": null,
    })
}

fn with_aex(card: Value, provider: &ProviderRow, published: bool) -> Value {
    let mut card = card;
    if let Value::Object(map) = &mut card {
        map.insert(
            "aex".into(),
            json!({
                "provider_id": provider.id,
                "trust_tier": provider.trust_tier,
                "status": provider.status,
                "published": published,
            }),
        );
    }
    card
}

pub async fn publish(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    Json(body): Json<CardBody>,
) -> Result<Json<Value>> {
    principal.require_scope("providers:write")?;
    let tenant_id = principal.require_tenant()?;
    known_id(&id, "prov").map_err(|_| Error::ProviderNotFound)?;
    let provider = match providers::get(&state.pool, &id).await? {
        Some(provider) if provider.tenant_id == tenant_id => provider,
        _ => return Err(Error::ProviderNotFound),
    };
    let (card, tags) = validate(body)?;
    let row = agent_cards::upsert(&state.pool, &provider.id, &card, &tags).await?;
    Ok(Json(with_aex(row.card, &provider, true)))
}

pub async fn get(State(state): State<AppState>, principal: Principal, Path(id): Path<String>) -> Result<Json<Value>> {
    principal.require_tenant()?;
    known_id(&id, "prov").map_err(|_| Error::ProviderNotFound)?;
    let provider = providers::get(&state.pool, &id).await?.ok_or(Error::ProviderNotFound)?;
    let card = match agent_cards::get(&state.pool, &provider.id).await? {
        Some(row) => with_aex(row.card, &provider, true),
        None => with_aex(derived_card(&provider), &provider, false),
    };
    Ok(Json(card))
}
