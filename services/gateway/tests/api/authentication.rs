//! Every way authentication and authorization refuse a request, and revocation reaching a
//! second gateway instance within a second.

use crate::{Cred, assert_error, call, random_key, request};
use aex_common::secret::Secret;
use aex_gateway::{AccessClaims, AccessTokens};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::json;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

fn now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs()
}

#[tokio::test]
async fn missing_malformed_and_unknown_credentials_are_401_and_never_forwarded() {
    let gw = crate::start_gateway().await;
    let settlement = gw.env.upstream("settlement");
    assert_error(&gw.call("GET", "/v1/balance", Cred::None, None).await, 401, "AUTHENTICATION_REQUIRED");
    assert_error(&gw.call("GET", "/v1/balance", Cred::ApiKey("garbage"), None).await, 401, "INVALID_API_KEY");
    assert_error(&gw.call("GET", "/v1/balance", Cred::ApiKey("aexk_zz"), None).await, 401, "INVALID_API_KEY");
    assert_error(&gw.call("GET", "/v1/balance", Cred::ApiKey(&random_key()), None).await, 401, "INVALID_API_KEY");
    assert_error(&gw.call("GET", "/v1/balance", Cred::Bearer(&random_key()), None).await, 401, "INVALID_API_KEY");
    assert_error(&gw.call("GET", "/v1/balance", Cred::Bearer("not-a-jwt"), None).await, 401, "INVALID_TOKEN");
    let basic = request(&gw.service, "GET", "/v1/balance", Cred::None, None)
        .header("authorization", "Basic dXNlcjpwYXNz")
        .send()
        .await
        .unwrap();
    assert_eq!(basic.status(), 401);
    let body: serde_json::Value = basic.json().await.unwrap();
    assert_eq!(body["error"]["code"], "AUTHENTICATION_REQUIRED");
    assert_eq!(settlement.calls(), 0, "no refused request reaches a service");
    // The gateway's own routes are guarded the same way.
    assert_error(&gw.call("POST", "/v1/tenants", Cred::None, Some(json!({}))).await, 401, "AUTHENTICATION_REQUIRED");
}

#[tokio::test]
async fn revoked_and_expired_keys_and_suspended_tenants_are_refused() {
    let gw = crate::start_gateway().await;
    let (tenant, key) = gw.create_tenant("BOTH").await;
    assert_eq!(gw.call("GET", "/v1/balance", Cred::ApiKey(&key), None).await.0, 200);

    // Expired key: valid for two seconds, then refused.
    let expires = time::OffsetDateTime::now_utc() + time::Duration::seconds(2);
    let expires = expires.format(&time::format_description::well_known::Rfc3339).unwrap();
    let (_, short_lived) = gw.create_key(&tenant, Cred::ApiKey(&key), &["read"], json!({"expires_at": expires})).await;
    assert_eq!(gw.call("GET", "/v1/balance", Cred::ApiKey(&short_lived), None).await.0, 200);
    let refused = aex_testkit::eventually(Duration::from_secs(10), "the key to expire", || async {
        let answer = gw.call("GET", "/v1/balance", Cred::ApiKey(&short_lived), None).await;
        (answer.0 == 401).then_some(answer)
    })
    .await;
    assert_error(&refused, 401, "INVALID_API_KEY");

    // Revoked key (and the access tokens issued for it).
    let (key_id, doomed) = gw.create_key(&tenant, Cred::ApiKey(&key), &["read"], json!({})).await;
    let (_, token) = gw.call("POST", "/v1/auth/token", Cred::None, Some(json!({"api_key": doomed}))).await;
    let token = token["access_token"].as_str().unwrap().to_string();
    assert_eq!(gw.call("GET", "/v1/balance", Cred::Bearer(&token), None).await.0, 200);
    let (status, revoked) =
        gw.call("DELETE", &format!("/v1/tenants/{tenant}/api-keys/{key_id}"), Cred::ApiKey(&key), None).await;
    assert_eq!(status, 200, "{revoked}");
    assert_eq!(revoked, json!({"revoked": true, "id": key_id}));
    assert_error(&gw.call("GET", "/v1/balance", Cred::ApiKey(&doomed), None).await, 401, "INVALID_API_KEY");
    assert_error(&gw.call("GET", "/v1/balance", Cred::Bearer(&token), None).await, 401, "INVALID_TOKEN");
    assert_error(
        &gw.call("POST", "/v1/auth/token", Cred::None, Some(json!({"api_key": doomed}))).await,
        401,
        "INVALID_API_KEY",
    );

    // Suspended tenant: keys and tokens stop at once; activation restores them.
    let (_, token) = gw.call("POST", "/v1/auth/token", Cred::None, Some(json!({"api_key": key}))).await;
    let token = token["access_token"].as_str().unwrap().to_string();
    let (status, suspended) = gw
        .call("POST", &format!("/v1/tenants/{tenant}/suspend"), gw.admin(), Some(json!({"reason": "fraud review"})))
        .await;
    assert_eq!(status, 200, "{suspended}");
    assert_eq!(suspended["status"], "SUSPENDED");
    assert_error(&gw.call("GET", "/v1/balance", Cred::ApiKey(&key), None).await, 403, "TENANT_SUSPENDED");
    assert_error(&gw.call("GET", "/v1/balance", Cred::Bearer(&token), None).await, 403, "TENANT_SUSPENDED");
    let (status, _) = gw.call("POST", &format!("/v1/tenants/{tenant}/activate"), gw.admin(), None).await;
    assert_eq!(status, 200);
    assert_eq!(gw.call("GET", "/v1/balance", Cred::ApiKey(&key), None).await.0, 200);

    // The operator tenant cannot lock itself out.
    let (_, me) = gw.call("GET", "/v1/balance", gw.admin(), None).await;
    let operator = me["tenant_id"].as_str().unwrap();
    assert_error(
        &gw.call("POST", &format!("/v1/tenants/{operator}/suspend"), gw.admin(), None).await,
        409,
        "OPERATOR_TENANT",
    );
}

#[tokio::test]
async fn forged_and_invalid_access_tokens_are_refused() {
    let gw = crate::start_gateway().await;
    let (tenant, key) = gw.create_tenant("REQUESTOR").await;
    let (status, issued) = gw.call("POST", "/v1/auth/token", Cred::None, Some(json!({"api_key": key}))).await;
    assert_eq!(status, 200, "{issued}");
    assert_eq!(issued["token_type"], "Bearer");
    assert_eq!(issued["tenant_id"], tenant.as_str());
    assert!(issued["expires_in"].as_u64().unwrap() > 0);
    assert!(issued["scopes"].as_array().unwrap().contains(&json!("work:submit")));
    let token = issued["access_token"].as_str().unwrap();
    let (status, echoed) = gw.call("GET", "/v1/balance", Cred::Bearer(token), None).await;
    assert_eq!(status, 200);
    assert_eq!(echoed["tenant_id"], tenant.as_str());

    let good = AccessTokens::new(&Secret::new(gw.env.jwt_secret.clone()), Duration::from_secs(60));
    let claims = good.verify(token).unwrap();
    let forge = |claims: AccessClaims| good.sign(&claims).unwrap();
    let wrong_key = AccessTokens::new(&Secret::new("x".repeat(20) + &"y".repeat(20)), Duration::from_secs(60));

    let header_none = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#);
    let payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&claims).unwrap());
    let alg_none = format!("{header_none}.{payload}.");
    let header_hs = URL_SAFE_NO_PAD.encode(br#"{"alg":"HS256","typ":"JWT"}"#);
    let mut without_exp = serde_json::to_value(&claims).unwrap();
    without_exp.as_object_mut().unwrap().remove("exp");
    let no_exp = jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &without_exp,
        &jsonwebtoken::EncodingKey::from_secret(gw.env.jwt_secret.as_bytes()),
    )
    .unwrap();
    let tampered = {
        let mut escalated = serde_json::to_value(&claims).unwrap();
        escalated["scopes"] = json!(["admin"]);
        let signature = token.rsplit('.').next().unwrap();
        format!("{header_hs}.{}.{signature}", URL_SAFE_NO_PAD.encode(serde_json::to_vec(&escalated).unwrap()))
    };
    let cases = [
        ("alg none", alg_none),
        ("bad signature", wrong_key.sign(&claims).unwrap()),
        ("tampered payload", tampered),
        ("expired past the leeway", forge(AccessClaims { exp: now() - 60, ..claims.clone() })),
        ("wrong issuer", forge(AccessClaims { iss: "someone-else".into(), ..claims.clone() })),
        ("wrong audience", forge(AccessClaims { aud: "other-app".into(), ..claims.clone() })),
        ("missing exp", no_exp),
        ("another tenant's id", forge(AccessClaims { tenant_id: "tenant_x".into(), ..claims.clone() })),
    ];
    for (what, token) in cases {
        let answer = gw.call("GET", "/v1/balance", Cred::Bearer(&token), None).await;
        assert_eq!(answer.0, 401, "{what}: {}", answer.1);
        assert_eq!(answer.1["error"]["code"], "INVALID_TOKEN", "{what}");
    }
    assert_eq!(gw.env.upstream("settlement").calls(), 1, "only the valid token reached the service");
    assert_error(&gw.call("POST", "/v1/auth/token", Cred::None, Some(json!({}))).await, 400, "VALIDATION_ERROR");
}

#[tokio::test]
async fn insufficient_scope_is_403_naming_the_scope() {
    let gw = crate::start_gateway().await;
    let (tenant, key) = gw.create_tenant("BOTH").await;
    let (_, reader) = gw.create_key(&tenant, Cred::ApiKey(&key), &["read"], json!({})).await;
    let answer = gw.call("POST", "/v1/deposits", Cred::ApiKey(&reader), Some(json!({"amount": "10.00"}))).await;
    assert_error(&answer, 403, "INSUFFICIENT_SCOPE");
    assert!(answer.1["error"]["message"].as_str().unwrap().contains("billing:write"), "{}", answer.1);
    let answer = gw.call("POST", "/v1/tenants", Cred::ApiKey(&key), Some(json!({"name": "x", "type": "BOTH"}))).await;
    assert_error(&answer, 403, "INSUFFICIENT_SCOPE");
    assert!(answer.1["error"]["message"].as_str().unwrap().contains("admin"));
    let answer = gw.call("GET", "/v1/audit/journal", Cred::ApiKey(&key), None).await;
    assert_error(&answer, 403, "INSUFFICIENT_SCOPE");
    assert_eq!(gw.env.upstream("settlement").calls(), 0);
    // A key never gets more than its creator holds.
    let answer = gw
        .call(
            "POST",
            &format!("/v1/tenants/{tenant}/api-keys"),
            Cred::ApiKey(&key),
            Some(json!({"name": "x", "scopes": ["admin"]})),
        )
        .await;
    assert_error(&answer, 403, "SCOPE_NOT_GRANTABLE");
    let answer = gw
        .call(
            "POST",
            &format!("/v1/tenants/{tenant}/api-keys"),
            Cred::ApiKey(&reader),
            Some(json!({"name": "x", "scopes": ["read"]})),
        )
        .await;
    assert_error(&answer, 403, "INSUFFICIENT_SCOPE");
    // Scopes travel to the service in the service token.
    let (_, echoed) = gw.call("GET", "/v1/balance", Cred::ApiKey(&reader), None).await;
    assert_eq!(echoed["scopes"], json!(["read"]));
}

#[tokio::test]
async fn revocation_and_suspension_on_one_instance_reach_another_within_a_second() {
    let gw = crate::start_gateway().await;
    let second = crate::spawn(gw.env.args(&gw.sut)).await;
    let (tenant, key) = gw.create_tenant("BOTH").await;
    let (key_id, victim) = gw.create_key(&tenant, Cred::ApiKey(&key), &["read"], json!({})).await;
    // Instance B receives invalidations (otherwise it would bypass its cache and prove nothing).
    aex_testkit::eventually(Duration::from_secs(10), "instance B to listen for invalidations", || async {
        let ready: serde_json::Value =
            second.http.get(second.url("/health/ready")).send().await.ok()?.json().await.ok()?;
        (ready["dependencies"]["credential_events"]["status"] == "ok").then_some(())
    })
    .await;
    for _ in 0..3 {
        // Warm instance B's cache, so refusal cannot come from a cold lookup.
        assert_eq!(call(&second, "GET", "/v1/balance", Cred::ApiKey(&victim), None).await.0, 200);
    }
    let (status, _) =
        gw.call("DELETE", &format!("/v1/tenants/{tenant}/api-keys/{key_id}"), Cred::ApiKey(&key), None).await;
    assert_eq!(status, 200);
    let revoked_at = Instant::now();
    let answer = aex_testkit::eventually(Duration::from_secs(1), "instance B to refuse the revoked key", || async {
        let answer = call(&second, "GET", "/v1/balance", Cred::ApiKey(&victim), None).await;
        (answer.0 == 401).then_some(answer)
    })
    .await;
    assert_error(&answer, 401, "INVALID_API_KEY");
    assert!(revoked_at.elapsed() < Duration::from_secs(1));

    for _ in 0..3 {
        assert_eq!(call(&second, "GET", "/v1/balance", Cred::ApiKey(&key), None).await.0, 200);
    }
    let (status, _) = gw.call("POST", &format!("/v1/tenants/{tenant}/suspend"), gw.admin(), None).await;
    assert_eq!(status, 200);
    let answer =
        aex_testkit::eventually(Duration::from_secs(1), "instance B to refuse the suspended tenant", || async {
            let answer = call(&second, "GET", "/v1/balance", Cred::ApiKey(&key), None).await;
            (answer.0 == 403).then_some(answer)
        })
        .await;
    assert_error(&answer, 403, "TENANT_SUSPENDED");
    second.stop().await;
}

#[tokio::test]
async fn a_weak_jwt_secret_stops_the_start() {
    let sut = aex_testkit::ServiceUnderTest::new("aex-gateway", aex_gateway::SCHEMA);
    let env = crate::TestEnv { admin_key: random_key(), jwt_secret: "short".into(), ..crate::TestEnv::new(&sut).await };
    let config = <aex_gateway::Config as clap::Parser>::try_parse_from(env.args(&sut)).unwrap();
    let (listener, _) = aex_testkit::listener().await;
    let result = aex_gateway::run(config, listener, tokio_util::sync::CancellationToken::new()).await;
    assert!(result.unwrap_err().to_string().contains("AEX_JWT_SECRET"));

    let env = crate::TestEnv { jwt_secret: "changeme".repeat(6), ..env };
    let mut args = env.args(&sut);
    args.extend(["--env".to_string(), "production".to_string()]);
    let config = <aex_gateway::Config as clap::Parser>::try_parse_from(args).unwrap();
    let (listener, _) = aex_testkit::listener().await;
    let result = aex_gateway::run(config, listener, tokio_util::sync::CancellationToken::new()).await;
    assert!(result.unwrap_err().to_string().contains("placeholder"));
}
