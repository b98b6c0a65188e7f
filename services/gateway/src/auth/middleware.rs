//! Authentication and scope check, as route layers of the gateway router (so an unknown path
//! is a plain 404): authentication → (rate limit) → scope check → (idempotency) → handler.

use super::Caller;
use crate::AppState;
use crate::domain::route::{self, Access};
use crate::domain::scope;
use crate::error::Error;
use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

fn access_of(request: &Request) -> Access {
    let pattern = request.extensions().get::<MatchedPath>().map(MatchedPath::as_str).unwrap_or("");
    route::required_access(request.method().as_str(), pattern)
}

/// Resolves the caller and puts it in the request extensions; public routes pass through.
pub async fn authenticate(State(state): State<AppState>, mut request: Request, next: Next) -> Response {
    if access_of(&request) == Access::Public {
        return next.run(request).await;
    }
    let client = state.limiter.client_address(request.extensions(), request.headers());
    match state.auth.authenticate(request.headers(), client).await {
        Ok(caller) => {
            tracing::Span::current().record("tenant_id", caller.tenant_id.as_str());
            request.extensions_mut().insert(caller);
            next.run(request).await
        }
        Err(error) => error.into_response(),
    }
}

/// Refuses callers without the route's scope (403 naming it); unmapped routes need `*`.
pub async fn require_scope(request: Request, next: Next) -> Response {
    let Access::Scope(required) = access_of(&request) else {
        return next.run(request).await;
    };
    let Some(caller) = request.extensions().get::<Caller>() else {
        return Error::AuthenticationRequired.into_response();
    };
    if !scope::satisfies(&caller.scopes, required) {
        return Error::InsufficientScope(required).into_response();
    }
    next.run(request).await
}
