//! Health, readiness, metrics, the error envelope and the service's own schema.

#[tokio::test]
async fn serves_operational_routes_on_its_own_migrated_schema() {
    let (service, sut) = crate::start().await;
    aex_testkit::assert_operational(&service, "gateway").await;
    aex_testkit::assert_schema_migrated(&sut).await;
    let ready: serde_json::Value =
        service.http.get(service.url("/health/ready")).send().await.unwrap().json().await.unwrap();
    assert_eq!(ready["dependencies"]["redis"]["status"], "ok", "{ready}");
    service.stop().await;
}
