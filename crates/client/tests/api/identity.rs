//! Tenants, API keys, token exchange and the error envelope, through the real gateway.

use crate::stack;
use aex_client::identity::{NewApiKey, NewTenant, TenantType};
use aex_client::{Client, PageParams};
use futures::TryStreamExt;
use std::collections::HashSet;

#[tokio::test]
async fn the_operator_creates_a_tenant_whose_key_works_directly_and_as_a_token() {
    let stack = stack();
    let (created, client) = stack.tenant(TenantType::Both).await;
    assert_eq!(created.tenant.id, created.tenant.tenant_id);
    assert_eq!(created.tenant.tenant_type, TenantType::Both);
    assert_eq!(created.tenant.status, "ACTIVE");
    assert!(!created.tenant.operator);
    assert!(created.api_key.secret().unwrap().expose().starts_with("aexk_"));
    assert!(created.api_key.scopes.iter().any(|s| s == "billing:write"), "{:?}", created.api_key.scopes);

    let own = client.tenants().get(&created.tenant.id).await.unwrap();
    assert_eq!(own.name, created.tenant.name);
    let limit = client.last_rate_limit().expect("every /v1 answer carries the rate-limit headers");
    assert!(limit.limit > 0 && limit.remaining < limit.limit, "{limit:?}");

    let token = client.auth().token().await.unwrap();
    assert_eq!(token.token_type, "Bearer");
    assert_eq!(token.tenant_id, created.tenant.id);
    assert!(token.expires_in > 0);
    assert_eq!(token.scopes, created.api_key.scopes);
    let with_token =
        Client::builder(&stack.gateway.base_url).bearer_token(token.access_token.expose()).build().unwrap();
    assert_eq!(with_token.tenants().get(&created.tenant.id).await.unwrap().id, created.tenant.id);

    // The client exchanges the key itself, once, and keeps using the token.
    let exchanging = Client::builder(&stack.gateway.base_url)
        .api_key(created.api_key.secret().unwrap().expose())
        .exchange_for_token()
        .build()
        .unwrap();
    for _ in 0..3 {
        assert_eq!(exchanging.tenants().get(&created.tenant.id).await.unwrap().id, created.tenant.id);
    }
}

#[tokio::test]
async fn errors_carry_the_status_and_stable_code_of_the_envelope() {
    let stack = stack();
    let (first, client) = stack.tenant(TenantType::Requestor).await;
    let (second, _) = stack.tenant(TenantType::Provider).await;

    let unknown = stack.client(&format!("aexk_{}", "0".repeat(64)));
    let error = unknown.tenants().get(&first.tenant.id).await.unwrap_err();
    assert!(error.is_unauthorized(), "{error}");
    assert_eq!(error.code(), Some("INVALID_API_KEY"));
    assert!(error.request_id().is_some_and(|id| !id.is_empty()));

    let error = stack.anonymous().tenants().get(&first.tenant.id).await.unwrap_err();
    assert_eq!((error.status(), error.code()), (Some(401), Some("AUTHENTICATION_REQUIRED")));

    // Another tenant's answers as if it did not exist.
    let error = client.tenants().get(&second.tenant.id).await.unwrap_err();
    assert!(error.is_not_found(), "{error}");
    assert_eq!(error.code(), Some("NOT_FOUND"));

    let error = client.tenants().create(&NewTenant::new("Rogue", TenantType::Both)).await.unwrap_err();
    assert_eq!((error.status(), error.code()), (Some(403), Some("INSUFFICIENT_SCOPE")));
    assert!(error.is_forbidden());

    let error = stack.operator().tenants().create(&NewTenant::new("", TenantType::Both)).await.unwrap_err();
    assert_eq!((error.status(), error.code()), (Some(400), Some("VALIDATION_ERROR")));
    assert!(error.is_invalid_request());

    let exchange = stack.anonymous().auth().exchange(&format!("aexk_{}", "1".repeat(64))).await.unwrap_err();
    assert_eq!(exchange.code(), Some("INVALID_API_KEY"));
}

#[tokio::test]
async fn api_keys_page_stream_rotate_and_revoke() {
    let stack = stack();
    let (created, client) = stack.tenant(TenantType::Requestor).await;
    let keys = client.api_keys(&created.tenant.id);
    let mut issued = vec![created.api_key.id.clone()];
    for n in 0..4 {
        let key = keys.create(&NewApiKey::new(format!("reader {n}"), ["read"])).await.unwrap();
        assert_eq!(key.scopes, vec!["read"]);
        issued.push(key.id);
    }

    let first = keys.list(PageParams::limit(2)).await.unwrap();
    assert_eq!((first.items.len(), first.total, first.limit, first.offset), (2, 5, 2, 0));
    let second = keys.list(first.next().unwrap()).await.unwrap();
    assert_eq!((second.items.len(), second.offset), (2, 2));
    assert!(second.has_more());

    let all: Vec<_> = keys.list_all(PageParams::limit(2)).try_collect().await.unwrap();
    let listed: HashSet<_> = all.iter().map(|k| k.id.clone()).collect();
    assert_eq!(all.len(), 5, "each key exactly once");
    assert_eq!(listed, issued.iter().cloned().collect::<HashSet<_>>());

    let reader = keys.create(&NewApiKey::new("to rotate", ["read"])).await.unwrap();
    let rotated = keys.rotate(&reader.id, Some(0)).await.unwrap();
    assert_eq!(rotated.previous_key_id, reader.id);
    assert_eq!(rotated.key.rotated_from.as_ref(), Some(&reader.id));
    let successor = stack.client(rotated.key.secret().unwrap().expose());
    assert_eq!(successor.tenants().get(&created.tenant.id).await.unwrap().id, created.tenant.id);

    let revoked = keys.revoke(&rotated.key.id).await.unwrap();
    assert!(revoked.revoked);
    assert_eq!(revoked.id, rotated.key.id);
    let error = successor.tenants().get(&created.tenant.id).await.unwrap_err();
    assert_eq!(error.code(), Some("INVALID_API_KEY"));
}

#[tokio::test]
async fn the_gateway_describes_itself_without_credentials() {
    let anonymous = stack().anonymous();
    let gateway = anonymous.gateway();
    assert_eq!(gateway.health().await.unwrap().status, "ok");
    assert_eq!(gateway.info().await.unwrap().name, "aex-gateway");
    let document = gateway.openapi().await.unwrap();
    assert!(document["paths"]["/v1/deposits"].is_object(), "the OpenAPI document lists the public routes");
}

#[tokio::test]
async fn a_create_repeated_with_its_idempotency_key_names_the_same_key_without_its_secret() {
    let stack = stack();
    let operator = stack.operator();
    let new = NewTenant::new(format!("Repeat {}", aex_testkit::unique_suffix()), TenantType::Provider);
    let key = format!("create-{}", aex_testkit::unique_suffix());
    let first = operator.tenants().idempotency_key(&key).create(&new).await.unwrap();
    let again = operator.tenants().idempotency_key(&key).create(&new).await.unwrap();
    assert_eq!(
        (again.tenant.id.clone(), again.api_key.id.clone()),
        (first.tenant.id.clone(), first.api_key.id.clone())
    );
    assert!(first.api_key.secret().unwrap().expose().starts_with("aexk_"));
    assert!(again.api_key.key.is_none() && again.api_key.key_note.is_some(), "{:?}", again.api_key);
    let error = again.api_key.secret().unwrap_err();
    assert!(matches!(error, aex_client::Error::SecretAlreadyShown { .. }), "{error}");
    // The secret of the first answer is the tenant's key.
    let client = stack.client(first.api_key.secret().unwrap().expose());
    assert_eq!(client.tenants().get(&first.tenant.id).await.unwrap().id, first.tenant.id);
}
