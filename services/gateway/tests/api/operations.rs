//! Health, readiness, metrics, the error envelope, the service's own schema and `/v1/info`.

use crate::{Cred, call};

#[tokio::test]
async fn serves_operational_routes_on_its_own_migrated_schema() {
    let (service, sut) = crate::start().await;
    aex_testkit::assert_operational(&service, "gateway").await;
    aex_testkit::assert_schema_migrated(&sut).await;
    let ready: serde_json::Value =
        service.http.get(service.url("/health/ready")).send().await.unwrap().json().await.unwrap();
    assert_eq!(ready["dependencies"]["redis"]["status"], "ok", "{ready}");
    let (status, info) = call(&service, "GET", "/v1/info", Cred::None, None).await;
    assert_eq!(status, 200);
    assert_eq!(info["name"], "aex-gateway");
    assert_eq!(info["version"], env!("CARGO_PKG_VERSION"));
    service.stop().await;
}
