//! `GET /openapi.json`: served without credentials, OpenAPI 3.1, every route of the table with
//! its scope, the security schemes and the error envelope.

use aex_gateway::domain::route::{Access, ROUTES};
use serde_json::{Value, json};

#[tokio::test]
async fn the_document_lists_every_route_with_its_scope() {
    let gw = crate::start_gateway().await;
    let response = gw.service.http.get(gw.service.url("/openapi.json")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert!(response.headers()["content-type"].to_str().unwrap().starts_with("application/json"));
    let doc: Value = response.json().await.unwrap();
    assert_eq!(doc["openapi"], "3.1.0");
    assert!(doc["info"]["title"].is_string() && doc["info"]["version"].is_string());

    let mut operations = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        operations += item.as_object().unwrap().len();
        assert!(path.starts_with("/v1/") || path.starts_with("/.well-known/"), "{path}");
    }
    assert_eq!(operations, ROUTES.len(), "no more and no fewer operations than routes");
    for route in ROUTES {
        let op = &doc["paths"][route.pattern][route.verb.as_str().to_lowercase()];
        assert!(op.is_object(), "{} {} is documented", route.verb.as_str(), route.pattern);
        assert_eq!(op["tags"][0], route.service.name());
        match route.access {
            Access::Public => assert_eq!(op["security"], json!([]), "{}", route.pattern),
            Access::Scope(scope) => {
                assert_eq!(op["security"], json!([{"api_key": [scope]}, {"bearer": [scope]}]), "{}", route.pattern);
                assert!(op["responses"]["403"].is_object());
            }
        }
        for name in route.pattern.split('/').filter_map(|s| s.strip_prefix('{')?.strip_suffix('}')) {
            let params = op["parameters"].as_array().unwrap();
            assert!(params.iter().any(|p| p["name"] == name && p["in"] == "path"), "{} {name}", route.pattern);
        }
    }
    let schemes = &doc["components"]["securitySchemes"];
    assert_eq!(
        schemes["api_key"],
        json!({"type": "apiKey", "in": "header", "name": "X-API-Key",
        "description": schemes["api_key"]["description"]})
    );
    assert_eq!(schemes["bearer"]["scheme"], "bearer");
    let envelope = &doc["components"]["schemas"]["ErrorEnvelope"];
    assert!(envelope.is_object(), "the error envelope schema");
    assert_eq!(
        doc["paths"]["/v1/auth/token"]["post"]["responses"]["200"]["content"]["application/json"]["schema"]["$ref"],
        "#/components/schemas/TokenResponse"
    );
    // Every $ref resolves.
    let text = doc.to_string();
    for reference in text.split("\"$ref\":\"#/components/schemas/").skip(1) {
        let name = reference.split('"').next().unwrap();
        assert!(doc["components"]["schemas"][name].is_object(), "{name} is defined");
    }
}
