//! The gateway's admission of a matched route, in one route layer (so an unknown path is a
//! plain 404): authentication → rate limit → scope check → idempotency → handler. One layer
//! rather than four: each layer is a boxed service cloned, and its future boxed, per request.

use super::Caller;
use crate::AppState;
use crate::domain::route::{self, Access};
use crate::domain::scope;
use crate::error::Error;
use crate::{idempotency, ratelimit};
use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

fn access_of(request: &Request) -> Access {
    let pattern = request.extensions().get::<MatchedPath>().map(MatchedPath::as_str).unwrap_or("");
    route::required_access(request.method().as_str(), pattern)
}

/// Admits a request to its route or answers for it: the caller is resolved (public routes
/// have none), limited, checked against the route's scope, and deduplicated by its
/// `Idempotency-Key`; every answer to a limited caller carries the `X-RateLimit-*` headers.
pub async fn admit(State(state): State<AppState>, mut request: Request, next: Next) -> Response {
    let access = access_of(&request);
    let client = state.limiter.client_address(request.extensions(), request.headers());
    if access != Access::Public {
        match state.auth.authenticate(request.headers(), client).await {
            Ok(caller) => {
                tracing::Span::current().record("tenant_id", caller.tenant_id.as_str());
                request.extensions_mut().insert(caller);
            }
            Err(error) => return error.into_response(),
        }
    }
    let class = ratelimit::class_of(&request);
    let scope_checked = check_scope(access, &request);
    // A request that may run and carries an Idempotency-Key claims it in the rate limiter's
    // round trip; the claim is made only if the request is admitted.
    let admitting = match scope_checked {
        Ok(()) => match idempotency::cover(&state.replay, request).await {
            Ok(Ok(covered)) => Admitting::Covered(covered),
            Ok(Err(request)) => Admitting::Plain(request),
            Err(refusal) => return refusal.into_response(),
        },
        Err(_) => Admitting::Plain(request),
    };
    let claim = match &admitting {
        Admitting::Covered(covered) => Some(&covered.claim),
        Admitting::Plain(_) => None,
    };
    let caller = admitting.request().extensions().get::<Caller>();
    let (decision, claimed) = match ratelimit::admit(&state.limiter, class, caller, client, claim).await {
        Ok(decided) => decided,
        Err(refusal) => return refusal,
    };
    let mut response = match (decision.allowed, scope_checked, admitting) {
        (false, _, _) => {
            metrics::counter!("aex_ratelimit_refused_total").increment(1);
            Error::RateLimited { retry_after: decision.retry_after }.into_response()
        }
        (true, Err(refusal), _) => refusal.into_response(),
        (true, Ok(()), Admitting::Covered(covered)) => {
            idempotency::run_claimed(state.replay.clone(), covered, claimed, next)
                .await
                .unwrap_or_else(IntoResponse::into_response)
        }
        (true, Ok(()), Admitting::Plain(request)) => next.run(request).await,
    };
    ratelimit::set_headers(response.headers_mut(), &decision);
    response
}

/// A request on its way in: as sent, or covered by the idempotency replay cache.
enum Admitting {
    Plain(Request),
    Covered(idempotency::Covered),
}

impl Admitting {
    fn request(&self) -> &Request {
        match self {
            Self::Plain(request) => request,
            Self::Covered(covered) => &covered.request,
        }
    }
}

/// Refuses callers without the route's scope (403 naming it); unmapped routes need `*`.
fn check_scope(access: Access, request: &Request) -> Result<(), Error> {
    let Access::Scope(required) = access else {
        return Ok(());
    };
    let Some(caller) = request.extensions().get::<Caller>() else {
        return Err(Error::AuthenticationRequired);
    };
    if !scope::satisfies(&caller.scopes, required) {
        return Err(Error::InsufficientScope(required));
    }
    Ok(())
}
