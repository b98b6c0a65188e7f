//! Schemathesis against the gateway's `/openapi.json`, under an ordinary tenant's key: every
//! operation the document lists is called with generated valid and invalid input (NUL bytes
//! included), and no answer may be a 5xx. `deploy/local/stack test` installs the pinned tool
//! and names it in `AEX_SCHEMATHESIS`.

use aex_client::identity::TenantType;
use aex_e2e::stack;
use std::process::Command;
use std::time::Instant;

#[tokio::test]
async fn schemathesis_finds_no_server_error_under_a_tenant_key() {
    let Ok(st) = std::env::var("AEX_SCHEMATHESIS") else {
        panic!("AEX_SCHEMATHESIS is not set: run the suite with deploy/local/stack test, which installs schemathesis");
    };
    let (created, _) = stack().tenant(TenantType::Both).await;
    let key = created.api_key.secret().unwrap().expose().to_string();
    let schema = format!("{}/openapi.json", stack().gateway.base_url);
    let started = Instant::now();
    let output = tokio::task::spawn_blocking(move || {
        // Schemathesis keeps its state in the working directory: not in the checkout.
        Command::new(st)
            .current_dir(std::env::temp_dir())
            .args(["run", &schema, "--checks", "not_a_server_error", "--max-examples", "15", "--seed", "20261204"])
            .args(["--phases", "examples,coverage,fuzzing", "--generation-allow-x00", "true", "--workers", "2"])
            .args(["--request-timeout", "20", "--no-color", "--generation-database", "none"])
            .args(["--header", &format!("X-API-Key: {key}")])
            .output()
    })
    .await
    .unwrap()
    .expect("schemathesis runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let summary: Vec<&str> = stdout.lines().rev().take(25).collect::<Vec<_>>().into_iter().rev().collect();
    println!("schemathesis ({:.1} s):\n{}", started.elapsed().as_secs_f64(), summary.join("\n"));
    assert!(
        output.status.success(),
        "schemathesis found server errors:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
}
