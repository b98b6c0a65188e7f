//! A2A agent cards and the skill index behind provider search.

use crate::{Publisher, assert_error, tenant};
use serde_json::json;

fn card(name: &str) -> serde_json::Value {
    json!({
        "name": name,
        "description": "reviews contracts",
        "url": "https://agent.example.com/a2a",
        "version": "2.1.0",
        "capabilities": { "streaming": true },
        "skills": [
            { "id": "contract-review", "name": "Contract review", "tags": ["Legal", "nda-review"],
              "examples": ["review this NDA"] },
            { "id": "redlining", "name": "Redlining" }
        ]
    })
}

#[tokio::test]
async fn a_provider_publishes_its_card_and_search_finds_it_by_skill() {
    let p = Publisher::start().await;
    let owner_tenant = tenant();
    let owner = p.tenant(&owner_tenant);
    let name = crate::name("carded");
    let provider_id = owner.provider(&name).await;
    let other = p.tenant(&tenant());

    // Before publishing, the card is derived from the profile.
    let (status, derived) = other.get(&format!("/v1/providers/{provider_id}/a2a")).await;
    assert_eq!(status, 200, "{derived}");
    assert_eq!(derived["name"], name.as_str());
    assert_eq!(derived["aex"]["published"], false);
    assert_eq!(derived["skills"][0]["id"], "translation");

    // Only the owner publishes; bad cards are refused.
    let path = format!("/v1/providers/{provider_id}/agent-card");
    assert_error(&other.post(&path, &card("x")).await, 404, "PROVIDER_NOT_FOUND");
    assert_error(
        &owner.post(&path, &json!({ "name": "x", "url": "https://a.example.com", "skills": [] })).await,
        400,
        "VALIDATION_ERROR",
    );
    assert_error(
        &owner.post(&path, &json!({ "name": "x", "url": "nope", "skills": [{ "id": "a", "name": "a" }] })).await,
        400,
        "VALIDATION_ERROR",
    );
    assert_error(
        &owner.post(&path, &json!({ "name": "x", "url": "https://a.example.com", "skills": [{ "name": "a" }] })).await,
        400,
        "VALIDATION_ERROR",
    );
    let (status, published) = owner.post(&path, &card(&name)).await;
    assert_eq!(status, 200, "{published}");
    assert_eq!(published["aex"]["published"], true);
    assert_eq!(published["aex"]["trust_tier"], "BRONZE", "trust comes from certauth, never the card");

    let (status, fetched) = other.get(&format!("/v1/providers/{provider_id}/a2a")).await;
    assert_eq!(status, 200);
    assert_eq!(fetched["version"], "2.1.0");
    assert_eq!(fetched["skills"][1]["id"], "redlining");

    for tag in ["nda-review", "contract-review", "NDA-REVIEW"] {
        let (status, found) = other.get(&format!("/v1/providers/search?skill_tags={tag}&limit=100")).await;
        assert_eq!(status, 200, "{found}");
        let ids: Vec<&str> =
            found["providers"].as_array().unwrap().iter().filter_map(|p| p["provider_id"].as_str()).collect();
        assert!(ids.contains(&provider_id.as_str()), "{tag}: {found}");
    }
    let (_, none) = other.get("/v1/providers/search?skill_tags=nda-review&min_trust=GOLD&limit=100").await;
    assert!(!none["providers"].as_array().unwrap().iter().any(|p| p["provider_id"] == provider_id.as_str()));
    assert_error(&other.get("/v1/providers/prov_nope/a2a").await, 404, "PROVIDER_NOT_FOUND");
    p.service.stop().await;
}
