//! Provider profiles: the tenant from the token, names owned platform-wide, trust never self-declared.

use crate::{Publisher, assert_error, name, provider_body, tenant};
use serde_json::json;

#[tokio::test]
async fn registers_a_provider_for_the_callers_tenant_and_refuses_self_declared_trust() {
    let p = Publisher::start().await;
    let (owner, other) = (tenant(), tenant());
    let agent = name("Lingua");
    // Trust and tenant are never the caller's to declare: such a body is refused whole.
    for (field, value) in [("trust_tier", json!("PLATINUM")), ("trust_score", json!(1.0)), ("tenant_id", json!(other))]
    {
        let mut body = provider_body(&agent);
        body[field] = value;
        let refused = p.tenant(&owner).post("/v1/providers", &body).await;
        assert_error(&refused, 400, "VALIDATION_ERROR");
        assert!(refused.1["error"]["message"].as_str().unwrap().contains(field), "{}", refused.1);
    }
    assert_eq!(p.count("SELECT count(*) FROM providers").await, 0);
    let (status, created) = p.tenant(&owner).post("/v1/providers", &provider_body(&agent)).await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["status"], "ACTIVE");
    assert_eq!(created["trust_tier"], "BRONZE", "everyone starts BRONZE");
    let id = created["provider_id"].as_str().unwrap();
    assert!(id.starts_with("prov_"));
    assert!(created["created_at"].as_str().unwrap().ends_with('Z'));

    let stored: (String, String) = sqlx::query_as("SELECT tenant_id, trust_tier FROM providers WHERE id = $1")
        .bind(id)
        .fetch_one(&p.pool)
        .await
        .unwrap();
    assert_eq!(stored, (owner.clone(), "BRONZE".to_string()), "the tenant comes from the token, not the body");

    let (status, own) = p.tenant(&owner).get("/v1/providers").await;
    assert_eq!(status, 200);
    assert_eq!(own["total"], 1);
    assert_eq!(own["providers"][0]["contact_email"], "ops@agent.example.com");
    assert_eq!(own["providers"][0]["capabilities"], json!(["translation", "legal"]));
    let (_, none) = p.tenant(&other).get("/v1/providers").await;
    assert_eq!(none["total"], 0);

    let (status, mine) = p.tenant(&owner).get(&format!("/v1/providers/{id}")).await;
    assert_eq!(status, 200);
    assert_eq!(mine["metadata"]["team"], "blue");
    let (status, public) = p.tenant(&other).get(&format!("/v1/providers/{id}")).await;
    assert_eq!(status, 200, "the directory entry is public");
    assert_eq!(public["name"], agent.as_str());
    assert!(
        public.get("contact_email").is_none()
            && public.get("metadata").is_none()
            && public.get("bid_webhook").is_none()
    );
    assert_error(&p.tenant(&owner).get("/v1/providers/prov_00000000000000000000000000").await, 404, "NOT_FOUND");
    assert_error(&p.tenant(&owner).get("/v1/providers/prov_%00").await, 400, "INVALID_CHARACTERS");
    p.service.stop().await;
}

#[tokio::test]
async fn a_provider_name_belongs_to_the_first_tenant() {
    let p = Publisher::start().await;
    let (owner, thief) = (tenant(), tenant());
    let agent = name("Translator");
    let id = p.tenant(&owner).provider(&agent).await;

    let mut hijack = provider_body(&agent.to_uppercase());
    hijack["endpoint"] = json!("https://evil.example.com/a2a");
    assert_error(&p.tenant(&thief).post("/v1/providers", &hijack).await, 409, "PROVIDER_NAME_TAKEN");
    assert_error(&p.tenant(&thief).post("/v1/providers", &provider_body(&agent)).await, 409, "PROVIDER_NAME_TAKEN");
    assert_error(&p.tenant(&owner).post("/v1/providers", &provider_body(&agent)).await, 409, "PROVIDER_ALREADY_EXISTS");

    let (endpoint, tenant_id): (String, String) =
        sqlx::query_as("SELECT endpoint, tenant_id FROM providers WHERE id = $1")
            .bind(&id)
            .fetch_one(&p.pool)
            .await
            .unwrap();
    assert_eq!(
        (endpoint.as_str(), tenant_id.as_str()),
        ("https://agent.example.com/a2a", owner.as_str()),
        "not overwritten"
    );
    assert_eq!(p.count("SELECT count(*) FROM providers").await, 1);
    p.service.stop().await;
}

#[tokio::test]
async fn bad_registrations_are_refused_naming_the_field_and_nothing_is_stored() {
    let p = Publisher::start().await;
    let t = p.tenant(&tenant());
    let cases = [
        ("name", json!(null)),
        ("name", json!("")),
        ("name", json!("bad/name")),
        ("name", json!("x".repeat(101))),
        ("endpoint", json!(null)),
        ("endpoint", json!("ftp://agent.example.com")),
        ("endpoint", json!("javascript:alert(1)")),
        ("endpoint", json!("not a url")),
        ("bid_webhook", json!("file:///etc/passwd")),
        ("contact_email", json!("nobody")),
        ("contact_email", json!(null)),
        ("capabilities", json!(["ok", ""])),
        ("metadata", json!("text")),
    ];
    for (field, value) in cases {
        let mut body = provider_body(&name("bad"));
        body[field] = value.clone();
        let result = t.post("/v1/providers", &body).await;
        assert_error(&result, 400, "VALIDATION_ERROR");
        let message = result.1["error"]["message"].as_str().unwrap();
        assert!(message.contains(field), "{field}={value}: {message}");
    }
    for (field, value) in [("metadata", json!({ "nul": "a\u{0}b" })), ("description", json!("a\u{0}b"))] {
        let mut body = provider_body(&name("bad"));
        body[field] = value.clone();
        let result = t.post("/v1/providers", &body).await;
        assert_error(&result, 400, "INVALID_CHARACTERS");
        let message = result.1["error"]["message"].as_str().unwrap();
        assert!(message.contains(field), "{field}={value}: {message}");
    }
    let mut wrong_type = provider_body(&name("bad"));
    wrong_type["capabilities"] = json!("translation");
    assert_error(&t.post("/v1/providers", &wrong_type).await, 400, "VALIDATION_ERROR");
    assert_eq!(p.count("SELECT count(*) FROM providers").await, 0);
    p.service.stop().await;
}

#[tokio::test]
async fn registration_needs_its_scope_and_a_token() {
    let p = Publisher::start().await;
    let reader = p.caller(&tenant(), &["read"]);
    assert_error(&reader.post("/v1/providers", &provider_body(&name("x"))).await, 403, "INSUFFICIENT_SCOPE");
    let anonymous = p.service.http.post(p.service.url("/v1/providers")).json(&provider_body("x")).send().await.unwrap();
    assert_eq!(anonymous.status(), 401);
    assert_eq!(p.count("SELECT count(*) FROM providers").await, 0);
    p.service.stop().await;
}

#[tokio::test]
async fn search_finds_active_providers_by_skill_and_trust() {
    let p = Publisher::start().await;
    let a = p.tenant(&tenant());
    let translator = a.provider(&name("trans")).await;
    let mut coder = provider_body(&name("coder"));
    coder["capabilities"] = json!(["code-review"]);
    let (status, coder) = p.tenant(&tenant()).post("/v1/providers", &coder).await;
    assert_eq!(status, 201);
    let coder = coder["provider_id"].as_str().unwrap().to_string();

    let ids = |body: &serde_json::Value| -> Vec<String> {
        body["providers"].as_array().unwrap().iter().map(|p| p["provider_id"].as_str().unwrap().to_string()).collect()
    };
    let (status, found) = a.get("/v1/providers/search?skill_tags=TRANSLATION").await;
    assert_eq!(status, 200, "{found}");
    assert_eq!(ids(&found), vec![translator.clone()]);
    let (_, found) = a.get("/v1/providers/search?skill_tags=code-review,legal&limit=10").await;
    assert_eq!(ids(&found).len(), 2);
    let (_, found) = a.get("/v1/providers/search").await;
    assert_eq!(ids(&found), vec![translator.clone(), coder.clone()]);
    assert!(found["providers"][0].get("contact_email").is_none(), "search shows directory entries only");
    let (_, found) = a.get("/v1/providers/search?min_trust=SILVER").await;
    assert_eq!(found["total"], 0, "everyone starts BRONZE");
    let (_, found) = a.get("/v1/providers/search?min_trust=0.3").await;
    assert_eq!(found["total"], 2);
    let (_, found) = a.get("/v1/providers/search?limit=1").await;
    assert_eq!((ids(&found), found["total"].as_i64()), (vec![translator.clone()], Some(2)), "total counts every match");
    let (_, found) = a.get("/v1/providers/search?limit=1&offset=1").await;
    assert_eq!(ids(&found), vec![coder.clone()]);
    assert_error(&a.get("/v1/providers/search?offset=-5").await, 400, "VALIDATION_ERROR");
    assert_error(&a.get("/v1/providers/search?limit=0").await, 400, "VALIDATION_ERROR");
    assert_error(&a.get("/v1/providers/search?limit=101").await, 400, "VALIDATION_ERROR");
    assert_error(&a.get("/v1/providers/search?min_trust=2").await, 400, "VALIDATION_ERROR");
    assert_error(&a.get("/v1/providers/search?min_trust=DIAMOND").await, 400, "VALIDATION_ERROR");
    p.service.stop().await;
}
