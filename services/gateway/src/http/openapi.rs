//! `GET /openapi.json`: the OpenAPI 3.1 document of the whole public API, built from the
//! route table (so it cannot drift from what the gateway serves): every path and method, its
//! owner as tag, its scope as a security requirement, the error envelope, the rate-limit
//! headers, and the request and response bodies of the routes the gateway answers itself.

use super::api_keys::{CreateKey, KeyList, KeyView, Revoked, Rotate, Rotated};
use super::auth_token::{TokenRequest, TokenResponse};
use super::tenants::{CreateTenant, CreatedTenant, Quotas, SetQuotas, StatusChange, TenantView};
use crate::domain::ratelimit::MONEY_ROUTES;
use crate::domain::route::{Access, ROUTES, Route, Verb};
use crate::service::IssuedKey;
use aex_api::{ErrorBody, ErrorEnvelope};
use axum::Json;
use std::sync::OnceLock;
use utoipa::openapi::content::ContentBuilder;
use utoipa::openapi::header::HeaderBuilder;
use utoipa::openapi::path::{HttpMethod, OperationBuilder, ParameterBuilder, ParameterIn, PathItem};
use utoipa::openapi::request_body::RequestBodyBuilder;
use utoipa::openapi::response::ResponseBuilder;
use utoipa::openapi::schema::{ComponentsBuilder, ObjectBuilder, Type};
use utoipa::openapi::security::{
    ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme,
};
use utoipa::openapi::{InfoBuilder, OpenApi, OpenApiBuilder, PathsBuilder, Ref, Required};

const JSON: &str = "application/json";
const API_KEY: &str = "api_key";
const BEARER: &str = "bearer";

/// The document, built once (it depends only on the route table and the build).
pub async fn serve() -> Json<&'static OpenApi> {
    static DOCUMENT: OnceLock<OpenApi> = OnceLock::new();
    Json(DOCUMENT.get_or_init(document))
}

/// Request and response bodies of the routes the gateway answers itself, by (method, pattern).
fn owned_bodies(verb: Verb, pattern: &str) -> (Option<&'static str>, Option<(&'static str, &'static str)>) {
    match (verb, pattern) {
        (Verb::Post, "/v1/auth/token") => (Some("TokenRequest"), Some(("200", "TokenResponse"))),
        (Verb::Post, "/v1/tenants") => (Some("CreateTenant"), Some(("201", "CreatedTenant"))),
        (Verb::Get, "/v1/tenants/{id}") => (None, Some(("200", "TenantView"))),
        (Verb::Post, "/v1/tenants/{id}/suspend" | "/v1/tenants/{id}/activate") => {
            (Some("StatusChange"), Some(("200", "TenantView")))
        }
        (Verb::Post, "/v1/tenants/{id}/quotas") => (Some("SetQuotas"), Some(("200", "TenantView"))),
        (Verb::Post, "/v1/tenants/{id}/api-keys") => (Some("CreateKey"), Some(("201", "IssuedKey"))),
        (Verb::Get, "/v1/tenants/{id}/api-keys") => (None, Some(("200", "KeyList"))),
        (Verb::Post, "/v1/tenants/{id}/api-keys/{key_id}/rotate") => (Some("Rotate"), Some(("201", "Rotated"))),
        (Verb::Delete, "/v1/tenants/{id}/api-keys/{key_id}") => (None, Some(("200", "Revoked"))),
        _ => (None, None),
    }
}

fn schema_ref(name: &str) -> Ref {
    Ref::from_schema_name(name)
}

fn json_content(schema: Ref) -> utoipa::openapi::Content {
    ContentBuilder::new().schema(Some(schema)).build()
}

fn integer_header(description: &str) -> utoipa::openapi::header::Header {
    HeaderBuilder::new()
        .schema(Some(ObjectBuilder::new().schema_type(Type::Integer)))
        .description(Some(description))
        .build()
}

fn error_response(description: &str, rate_limited: bool) -> utoipa::openapi::Response {
    let mut response =
        ResponseBuilder::new().description(description).content(JSON, json_content(schema_ref("ErrorEnvelope")));
    if rate_limited {
        response = response.header("Retry-After", integer_header("Seconds to wait before retrying."));
    }
    response.build()
}

fn operation(route: &Route) -> utoipa::openapi::path::Operation {
    let method = route.verb.as_str();
    let id: String = format!("{} {}", method.to_lowercase(), route.pattern)
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    let mut op = OperationBuilder::new()
        .operation_id(Some(id))
        .tag(route.service.name())
        .summary(Some(format!("{method} {}", route.pattern)));
    for segment in route.pattern.split('/') {
        if let Some(name) = segment.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
            op = op.parameter(
                ParameterBuilder::new()
                    .name(name)
                    .parameter_in(ParameterIn::Path)
                    .required(Required::True)
                    .schema(Some(ObjectBuilder::new().schema_type(Type::String))),
            );
        }
    }
    let (request, success) = owned_bodies(route.verb, route.pattern);
    let proxied_post = route.verb == Verb::Post && route.service.name() != "gateway";
    let own_create = matches!((route.verb, route.pattern), (Verb::Post, "/v1/tenants" | "/v1/tenants/{id}/api-keys"));
    if own_create {
        op = op.parameter(idempotency_key_parameter(
            "Same key and body: 201 with the same ids and Idempotent-Replayed: true, but the API key's \
             secret only in the first answer (later ones carry \"key\": null and a key_note); a \
             different body: 422 IDEMPOTENCY_KEY_REUSED. Concurrent repeats wait for the first.",
        ));
    }
    if proxied_post {
        op = op.parameter(idempotency_key_parameter(
            "Same key and body within 24 h: the first response replayed (Idempotent-Replayed: true); \
             a different body: 422 IDEMPOTENCY_KEY_REUSED; while the first runs: 409 REQUEST_IN_PROGRESS.",
        ));
    }
    if let Some(name) = request {
        op = op.request_body(Some(
            RequestBodyBuilder::new()
                .content(JSON, json_content(schema_ref(name)))
                .required(Some(Required::True))
                .build(),
        ));
    } else if route.verb == Verb::Post {
        op = op.request_body(Some(
            RequestBodyBuilder::new()
                .content(
                    JSON,
                    ContentBuilder::new().schema(Some(ObjectBuilder::new().schema_type(Type::Object))).build(),
                )
                .build(),
        ));
    }
    let scoped = matches!(route.access, Access::Scope(_));
    let mut ok = match success {
        Some((_, name)) => ResponseBuilder::new().description("success").content(JSON, json_content(schema_ref(name))),
        None => ResponseBuilder::new().description("success (201 when a resource is created)"),
    };
    if scoped {
        ok = ok
            .header("X-RateLimit-Limit", integer_header("Requests the tenant's bucket admits at once."))
            .header("X-RateLimit-Remaining", integer_header("Requests still admitted now."))
            .header("X-RateLimit-Reset", integer_header("Seconds until the bucket is full again."));
    }
    op = op.response(success.map(|(status, _)| status).unwrap_or("2XX"), ok.build());
    match route.access {
        Access::Public => {
            op = op.securities(Some(Vec::<SecurityRequirement>::new()));
        }
        Access::Scope(scope) => {
            op = op
                .security(SecurityRequirement::new(API_KEY, [scope]))
                .security(SecurityRequirement::new(BEARER, [scope]))
                .response("401", error_response("AUTHENTICATION_REQUIRED, INVALID_API_KEY or INVALID_TOKEN", false))
                .response("403", error_response(&format!("INSUFFICIENT_SCOPE: requires {scope}"), false))
                .response("429", error_response("RATE_LIMITED, AUTHENTICATION_THROTTLED or SERVICE_OVERLOADED", true));
        }
    }
    if MONEY_ROUTES.contains(&(route.verb, route.pattern)) {
        op = op.description(Some(
            "Moves money: a tighter per-tenant limit applies in addition, and while the rate-limit store is \
             unavailable the route answers 503 RATE_LIMIT_UNAVAILABLE with Retry-After.",
        ));
    }
    op.response("default", error_response("error envelope", false)).build()
}

/// Builds the document from the route table.
pub fn document() -> OpenApi {
    let mut paths = PathsBuilder::new();
    for route in ROUTES {
        let method = match route.verb {
            Verb::Get => HttpMethod::Get,
            Verb::Post => HttpMethod::Post,
            Verb::Delete => HttpMethod::Delete,
        };
        paths = paths.path(route.pattern, PathItem::new(method, operation(route)));
    }
    let components = ComponentsBuilder::new()
        .schema_from::<ErrorEnvelope>()
        .schema_from::<ErrorBody>()
        .schema_from::<TokenRequest>()
        .schema_from::<TokenResponse>()
        .schema_from::<CreateTenant>()
        .schema_from::<CreatedTenant>()
        .schema_from::<TenantView>()
        .schema_from::<Quotas>()
        .schema_from::<SetQuotas>()
        .schema_from::<StatusChange>()
        .schema_from::<CreateKey>()
        .schema_from::<IssuedKey>()
        .schema_from::<KeyView>()
        .schema_from::<KeyList>()
        .schema_from::<Rotate>()
        .schema_from::<Rotated>()
        .schema_from::<Revoked>()
        .security_scheme(
            API_KEY,
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                "X-API-Key",
                "An API key (aexk_…); also accepted as Authorization: Bearer aexk_….",
            ))),
        )
        .security_scheme(
            BEARER,
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .description(Some("An access token from POST /v1/auth/token."))
                    .build(),
            ),
        )
        .build();
    OpenApiBuilder::new()
        .info(
            InfoBuilder::new()
                .title("AEX — Agent Exchange public API")
                .version(env!("CARGO_PKG_VERSION"))
                .description(Some(
                    "Everything is reached through the gateway. Errors use the envelope \
                     {\"error\":{\"code\",\"message\",\"request_id\"}}. Scopes are listed per operation.",
                ))
                .build(),
        )
        .paths(paths.build())
        .components(Some(components))
        .build()
}

/// The optional `Idempotency-Key` header, with what a repeat answers on this route.
fn idempotency_key_parameter(description: &str) -> utoipa::openapi::path::Parameter {
    ParameterBuilder::new()
        .name("Idempotency-Key")
        .parameter_in(ParameterIn::Header)
        .required(Required::False)
        .description(Some(description))
        .schema(Some(ObjectBuilder::new().schema_type(Type::String).max_length(Some(255))))
        .build()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_route_is_documented_with_its_scope() {
        let doc = serde_json::to_value(document()).unwrap_or_default();
        assert_eq!(doc["openapi"], "3.1.0");
        for route in ROUTES {
            let op = &doc["paths"][route.pattern][route.verb.as_str().to_lowercase()];
            assert!(op.is_object(), "{} {} missing", route.verb.as_str(), route.pattern);
            match route.access {
                Access::Public => assert_eq!(op["security"], serde_json::json!([])),
                Access::Scope(scope) => assert_eq!(op["security"][0][API_KEY][0], scope),
            }
        }
        assert!(doc["components"]["schemas"]["ErrorEnvelope"].is_object());
        assert!(doc["components"]["securitySchemes"][BEARER].is_object());
    }
}
