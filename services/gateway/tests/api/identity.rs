//! Tenants and API keys: creation (key shown once), isolation between tenants, validation
//! with nothing persisted, rotation with a grace period, last use, and the operator key.

use crate::{Cred, assert_error, call};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::time::Duration;

async fn count(pool: &sqlx::PgPool, table: &str) -> i64 {
    let sql = match table {
        "tenants" => "SELECT count(*) FROM tenants",
        _ => "SELECT count(*) FROM api_keys",
    };
    sqlx::query_scalar(sql).fetch_one(pool).await.unwrap()
}

#[tokio::test]
async fn the_operator_creates_a_tenant_whose_key_is_shown_once() {
    let gw = crate::start_gateway().await;
    let body = json!({
        "name": "Acme Agents", "type": "PROVIDER", "contact_email": "ops@acme.io",
        "billing_email": "billing@acme.io", "metadata": {"region": "eu"}
    });
    let (status, created) = gw.call("POST", "/v1/tenants", gw.admin(), Some(body)).await;
    assert_eq!(status, 201, "{created}");
    let tenant = created["id"].as_str().unwrap();
    assert!(tenant.starts_with("tenant_"));
    assert_eq!(created["status"], "ACTIVE");
    assert_eq!(created["type"], "PROVIDER");
    assert_eq!(created["metadata"], json!({"region": "eu"}));
    let key = created["api_key"]["key"].as_str().unwrap();
    assert!(key.starts_with("aexk_") && key.len() == 69, "{key}");
    assert_eq!(created["api_key"]["prefix"], &key[..12]);
    assert!(created["api_key"]["scopes"].as_array().unwrap().contains(&json!("bids:submit")));

    // The tenant reads itself with its key; listings never show a secret.
    let (status, me) = gw.call("GET", &format!("/v1/tenants/{tenant}"), Cred::ApiKey(key), None).await;
    assert_eq!(status, 200, "{me}");
    assert_eq!(me["name"], "Acme Agents");
    assert_eq!(me["quotas"]["requests_per_minute"], Value::Null);
    let (status, list) = gw.call("GET", &format!("/v1/tenants/{tenant}/api-keys"), Cred::ApiKey(key), None).await;
    assert_eq!(status, 200, "{list}");
    assert_eq!(list["total"], 1);
    let listed = &list["keys"][0];
    assert_eq!(listed["id"], created["api_key"]["id"]);
    assert_eq!(listed["status"], "ACTIVE");
    assert!(listed.get("key").is_none() && listed.get("key_hash").is_none(), "{listed}");
    assert!(!list.to_string().contains(&key[12..]), "no part of the secret beyond the prefix is listed");

    // Stored as SHA-256 only.
    let pool = gw.pool().await;
    let stored: String = sqlx::query_scalar("SELECT key_hash FROM api_keys WHERE tenant_id = $1")
        .bind(tenant)
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(stored, hex::encode(Sha256::digest(key.as_bytes())));
    let plaintext_anywhere: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM api_keys WHERE key_hash = $1 OR prefix = $1 OR name = $1)")
            .bind(key)
            .fetch_one(&pool)
            .await
            .unwrap();
    assert!(!plaintext_anywhere);

    // Use is recorded (at most once a minute, off the request path).
    aex_testkit::eventually(Duration::from_secs(5), "last_used_at to be recorded", || async {
        let used: Option<time::OffsetDateTime> =
            sqlx::query_scalar("SELECT last_used_at FROM api_keys WHERE tenant_id = $1")
                .bind(tenant)
                .fetch_one(&pool)
                .await
                .unwrap();
        used
    })
    .await;
}

#[tokio::test]
async fn a_tenant_cannot_see_or_touch_another_tenant() {
    let gw = crate::start_gateway().await;
    let (a, key_a) = gw.create_tenant("REQUESTOR").await;
    let (b, key_b) = gw.create_tenant("PROVIDER").await;
    let (_, list_b) = gw.call("GET", &format!("/v1/tenants/{b}/api-keys"), Cred::ApiKey(&key_b), None).await;
    let key_b_id = list_b["keys"][0]["id"].as_str().unwrap().to_string();
    let a_cred = Cred::ApiKey(&key_a);
    let attempts = [
        ("GET", format!("/v1/tenants/{b}"), None),
        ("GET", format!("/v1/tenants/{b}/api-keys"), None),
        ("POST", format!("/v1/tenants/{b}/api-keys"), Some(json!({"name": "mine now", "scopes": ["read"]}))),
        ("POST", format!("/v1/tenants/{b}/api-keys/{key_b_id}/rotate"), Some(json!({"grace_seconds": 0}))),
        ("DELETE", format!("/v1/tenants/{b}/api-keys/{key_b_id}"), None),
        ("DELETE", format!("/v1/tenants/{a}/api-keys/{key_b_id}"), None),
        ("GET", "/v1/tenants/tenant_does_not_exist".to_string(), None),
    ];
    for (method, path, body) in attempts {
        assert_error(&gw.call(method, &path, a_cred, body).await, 404, "NOT_FOUND");
    }
    let (status, _) = gw.call("GET", &format!("/v1/tenants/{b}"), Cred::ApiKey(&key_b), None).await;
    assert_eq!(status, 200, "B's key still works and B is untouched");
    let pool = gw.pool().await;
    let keys_of_b: i64 = sqlx::query_scalar("SELECT count(*) FROM api_keys WHERE tenant_id = $1 AND status = 'ACTIVE'")
        .bind(&b)
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(keys_of_b, 1);
    // The operator sees everyone.
    assert_eq!(gw.call("GET", &format!("/v1/tenants/{b}"), gw.admin(), None).await.0, 200);
}

#[tokio::test]
async fn bad_input_is_400_naming_the_field_and_nothing_is_persisted() {
    let gw = crate::start_gateway().await;
    let (tenant, key) = gw.create_tenant("BOTH").await;
    let pool = gw.pool().await;
    let (tenants_before, keys_before) = (count(&pool, "tenants").await, count(&pool, "api_keys").await);

    let bad_tenants = [
        (json!({"type": "BOTH"}), "name"),
        (json!({"name": "   ", "type": "BOTH"}), "name"),
        (json!({"name": 42, "type": "BOTH"}), "name"),
        (json!({"name": "x".repeat(201), "type": "BOTH"}), "name"),
        (json!({"name": "x"}), "type"),
        (json!({"name": "x", "type": "CONSUMER"}), "type"),
        (json!({"name": "x", "type": "BOTH", "contact_email": "nope"}), "contact_email"),
        (json!({"name": "x", "type": "BOTH", "billing_email": "a b@c.d"}), "billing_email"),
        (json!({"name": "x", "type": "BOTH", "metadata": [1, 2]}), "metadata"),
        (json!({"name": "x", "type": "BOTH", "scopes": ["read", "steal"]}), "scopes"),
        (json!({"name": "x", "type": "BOTH", "scopes": []}), "scopes"),
        (json!({"name": "x", "type": "BOTH", "operator": true}), "operator"),
        (json!({"name": "x", "type": "BOTH", "tenant_id": "tenant_mine"}), "tenant_id"),
    ];
    for (body, field) in bad_tenants {
        let answer = gw.call("POST", "/v1/tenants", gw.admin(), Some(body.clone())).await;
        assert_error(&answer, 400, "VALIDATION_ERROR");
        assert!(answer.1["error"]["message"].as_str().unwrap().contains(field), "{body} → {}", answer.1);
    }
    let path = format!("/v1/tenants/{tenant}/api-keys");
    let bad_keys = [
        (json!({"scopes": ["read"]}), "name"),
        (json!({"name": "k"}), "scopes"),
        (json!({"name": "k", "scopes": ["nonsense"]}), "scopes"),
        (json!({"name": "k", "scopes": "read"}), "scopes"),
        (json!({"name": "k", "scopes": ["read"], "expires_at": "tomorrow"}), "expires_at"),
        (json!({"name": "k", "scopes": ["read"], "expires_at": "2001-01-01T00:00:00Z"}), "expires_at"),
        (json!({"name": "k", "scopes": ["read"], "tenant_id": "tenant_other"}), "tenant_id"),
    ];
    for (body, field) in bad_keys {
        let answer = gw.call("POST", &path, Cred::ApiKey(&key), Some(body.clone())).await;
        assert_error(&answer, 400, "VALIDATION_ERROR");
        assert!(answer.1["error"]["message"].as_str().unwrap().contains(field), "{body} → {}", answer.1);
    }
    let malformed = crate::request(&gw.service, "POST", "/v1/tenants", gw.admin(), None)
        .header("content-type", "application/json")
        .body("{\"name\": ")
        .send()
        .await
        .unwrap();
    assert_eq!(malformed.status(), 400);
    for (body, code) in [
        (r#"{"name":"x","name":"y","type":"BOTH"}"#, "DUPLICATE_JSON_KEY"),
        (r#"{"name":"x\u0000","type":"BOTH"}"#, "INVALID_CHARACTERS"),
    ] {
        let answer = crate::request(&gw.service, "POST", "/v1/tenants", gw.admin(), None)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), 400, "{body}");
        let answer: serde_json::Value = answer.json().await.unwrap();
        assert_eq!(answer["error"]["code"], code, "{body}");
    }
    let key_id = {
        let (_, list) = gw.call("GET", &path, Cred::ApiKey(&key), None).await;
        list["keys"][0]["id"].as_str().unwrap().to_string()
    };
    for grace in [json!(-1), json!(999_999_999), json!("soon")] {
        let answer = gw
            .call("POST", &format!("{path}/{key_id}/rotate"), Cred::ApiKey(&key), Some(json!({"grace_seconds": grace})))
            .await;
        assert_eq!(answer.0, 400, "{grace}: {}", answer.1);
    }
    for query in ["?limit=0", "?limit=1000", "?offset=-1", "?limit=abc"] {
        let answer = gw.call("GET", &format!("{path}{query}"), Cred::ApiKey(&key), None).await;
        assert_error(&answer, 400, "VALIDATION_ERROR");
    }
    assert_eq!(count(&pool, "tenants").await, tenants_before);
    assert_eq!(count(&pool, "api_keys").await, keys_before);
    let grace: Option<time::OffsetDateTime> = sqlx::query_scalar("SELECT grace_until FROM api_keys WHERE id = $1")
        .bind(&key_id)
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(grace, None, "a refused rotation changes nothing");
}

#[tokio::test]
async fn a_rotated_key_works_during_its_grace_period_and_not_after() {
    let gw = crate::start_gateway().await;
    let (tenant, key) = gw.create_tenant("BOTH").await;
    let (old_id, old) = gw.create_key(&tenant, Cred::ApiKey(&key), &["read"], json!({})).await;
    assert_eq!(gw.call("GET", "/v1/balance", Cred::ApiKey(&old), None).await.0, 200);
    let (status, rotated) = gw
        .call(
            "POST",
            &format!("/v1/tenants/{tenant}/api-keys/{old_id}/rotate"),
            Cred::ApiKey(&key),
            Some(json!({"grace_seconds": 2})),
        )
        .await;
    assert_eq!(status, 201, "{rotated}");
    let new = rotated["key"].as_str().unwrap().to_string();
    assert_ne!(new, old);
    assert_eq!(rotated["rotated_from"], old_id.as_str());
    assert_eq!(rotated["previous_key_id"], old_id.as_str());
    assert_eq!(rotated["scopes"], json!(["read"]));
    assert_eq!(gw.call("GET", "/v1/balance", Cred::ApiKey(&new), None).await.0, 200);
    assert_eq!(gw.call("GET", "/v1/balance", Cred::ApiKey(&old), None).await.0, 200, "old key works during the grace");
    let answer = aex_testkit::eventually(Duration::from_secs(10), "the grace period to end", || async {
        let answer = gw.call("GET", "/v1/balance", Cred::ApiKey(&old), None).await;
        (answer.0 == 401).then_some(answer)
    })
    .await;
    assert_error(&answer, 401, "INVALID_API_KEY");
    assert_eq!(gw.call("GET", "/v1/balance", Cred::ApiKey(&new), None).await.0, 200);
    let (_, list) = gw.call("GET", &format!("/v1/tenants/{tenant}/api-keys"), Cred::ApiKey(&key), None).await;
    let status_of =
        |id: &str| list["keys"].as_array().unwrap().iter().find(|k| k["id"] == id).unwrap()["status"].clone();
    assert_eq!(status_of(&old_id), "ROTATED");
    assert_eq!(status_of(rotated["id"].as_str().unwrap()), "ACTIVE");
    // Rotating twice, or a revoked key, is refused.
    let again =
        gw.call("POST", &format!("/v1/tenants/{tenant}/api-keys/{old_id}/rotate"), Cred::ApiKey(&key), None).await;
    assert_error(&again, 409, "KEY_NOT_ROTATABLE");

    // Grace 0: the old key stops at once, on this instance's warm cache too.
    let new_id = rotated["id"].as_str().unwrap();
    let (status, _) = gw
        .call(
            "POST",
            &format!("/v1/tenants/{tenant}/api-keys/{new_id}/rotate"),
            Cred::ApiKey(&key),
            Some(json!({"grace_seconds": 0})),
        )
        .await;
    assert_eq!(status, 201);
    assert_error(&gw.call("GET", "/v1/balance", Cred::ApiKey(&new), None).await, 401, "INVALID_API_KEY");
}

#[tokio::test]
async fn the_operator_key_file_is_written_exactly_once() {
    let sut = aex_testkit::ServiceUnderTest::new("aex-gateway", aex_gateway::SCHEMA);
    let env = crate::TestEnv::new(&sut).await;
    let dir = std::env::temp_dir().join(format!("aex-gw-{}", aex_testkit::unique_suffix()));
    let files = [dir.join("a/admin_api_key"), dir.join("b/admin_api_key")];
    let args_for = |file: &std::path::Path| {
        // No provided key here: the file is the only source of the operator key.
        let mut args: Vec<String> = env.args(&sut);
        let at = args.iter().position(|a| a == "--admin-api-key").unwrap();
        args.drain(at..at + 2);
        args.extend(["--admin-key-file".to_string(), file.display().to_string()]);
        args
    };
    // Two replicas starting at once.
    let (first, second) = tokio::join!(crate::spawn(args_for(&files[0])), crate::spawn(args_for(&files[1])));
    let written: Vec<&std::path::PathBuf> = files.iter().filter(|f| f.exists()).collect();
    assert_eq!(written.len(), 1, "exactly one replica writes the key");
    let key = std::fs::read_to_string(written[0]).unwrap().trim().to_string();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(written[0]).unwrap().permissions().mode() & 0o777, 0o600);
    }
    let (status, tenant) =
        call(&first, "POST", "/v1/tenants", Cred::ApiKey(&key), Some(json!({"name": "x", "type": "BOTH"}))).await;
    assert_eq!(status, 201, "the written key is an operator key: {tenant}");
    first.stop().await;
    second.stop().await;

    // A restart with no file creates nothing new.
    std::fs::remove_file(written[0]).unwrap();
    let again = crate::spawn(args_for(&files[0])).await;
    assert!(!files[0].exists() && !files[1].exists(), "no second operator key");
    let pool = sut.pool().await;
    let operator_keys: i64 =
        sqlx::query_scalar("SELECT count(*) FROM api_keys k JOIN tenants t ON t.id = k.tenant_id WHERE t.is_operator")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(operator_keys, 1);
    again.stop().await;
    let _ = std::fs::remove_dir_all(dir);
}
