//! The public route table: every method and path pattern the gateway answers, the service that
//! owns it and the scope it needs. It is explicit per method and pattern, so no prefix rule can
//! hide another route (AEX lost its award, trust and reputation routes that way). Anything not
//! listed is not exposed (`/internal/*` in particular), and a listed route without a scope
//! entry would need `*` (fail closed).

use super::scope::{
    ADMIN, ANY, BIDS_SUBMIT, BILLING_WRITE, CERTS_ISSUE, CONTRACTS_WRITE, PROVIDERS_WRITE, READ, TENANTS_WRITE,
    WORK_SUBMIT,
};

/// Who answers a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Service {
    /// The gateway itself: identity, tokens, tenants and keys.
    Gateway,
    WorkPublisher,
    BidEvaluator,
    Settlement,
    Certauth,
}

impl Service {
    /// The service's name, as in its `x-aex-service` header and its downstream label.
    pub fn name(self) -> &'static str {
        match self {
            Self::Gateway => "gateway",
            Self::WorkPublisher => "work-publisher",
            Self::BidEvaluator => "bid-evaluator",
            Self::Settlement => "settlement",
            Self::Certauth => "certauth",
        }
    }

    pub const UPSTREAMS: [Service; 4] = [Self::WorkPublisher, Self::BidEvaluator, Self::Settlement, Self::Certauth];
}

/// The HTTP methods the public API uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Verb {
    Get,
    Post,
    Delete,
}

impl Verb {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Get => "GET",
            Self::Post => "POST",
            Self::Delete => "DELETE",
        }
    }

    pub fn parse(method: &str) -> Option<Self> {
        match method {
            "GET" => Some(Self::Get),
            "POST" => Some(Self::Post),
            "DELETE" => Some(Self::Delete),
            _ => None,
        }
    }
}

/// What a route requires of the caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// No credentials: discovery, token exchange, and what relying parties must fetch
    /// anonymously (CA keys, CRLs, the delayed public market feed).
    Public,
    /// Authenticated, holding this scope (`admin` and `*` satisfy any).
    Scope(&'static str),
}

/// One public route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Route {
    pub verb: Verb,
    /// axum 0.8 pattern: `{name}` matches one segment.
    pub pattern: &'static str,
    pub service: Service,
    pub access: Access,
}

const fn route(verb: Verb, pattern: &'static str, service: Service, access: Access) -> Route {
    Route { verb, pattern, service, access }
}

impl Route {
    /// The route's own body limit where it accepts more than the default
    /// ([`aex_api::limits::BODY_BYTES`]): only the transfer batch does.
    pub fn body_limit(&self) -> Option<usize> {
        (self.verb == Verb::Post && self.pattern == "/v1/transfers")
            .then_some(aex_api::limits::TRANSFER_BATCH_BODY_BYTES)
    }
}

use Access::{Public, Scope};
use Service::{BidEvaluator, Certauth, Gateway, Settlement, WorkPublisher};
use Verb::{Delete, Get, Post};

/// Every public route (API.md), in API.md's order.
pub static ROUTES: &[Route] = &[
    // Gateway and identity.
    route(Get, "/v1/info", Gateway, Public),
    route(Post, "/v1/auth/token", Gateway, Public),
    route(Post, "/v1/tenants", Gateway, Scope(ADMIN)),
    route(Get, "/v1/tenants/{id}", Gateway, Scope(READ)),
    route(Post, "/v1/tenants/{id}/suspend", Gateway, Scope(ADMIN)),
    route(Post, "/v1/tenants/{id}/activate", Gateway, Scope(ADMIN)),
    route(Post, "/v1/tenants/{id}/quotas", Gateway, Scope(ADMIN)),
    route(Post, "/v1/tenants/{id}/api-keys", Gateway, Scope(TENANTS_WRITE)),
    route(Get, "/v1/tenants/{id}/api-keys", Gateway, Scope(READ)),
    route(Post, "/v1/tenants/{id}/api-keys/{key_id}/rotate", Gateway, Scope(TENANTS_WRITE)),
    route(Delete, "/v1/tenants/{id}/api-keys/{key_id}", Gateway, Scope(TENANTS_WRITE)),
    // Marketplace.
    route(Post, "/v1/providers", WorkPublisher, Scope(PROVIDERS_WRITE)),
    route(Get, "/v1/providers", WorkPublisher, Scope(READ)),
    route(Get, "/v1/providers/search", WorkPublisher, Scope(READ)),
    route(Get, "/v1/providers/{id}", WorkPublisher, Scope(READ)),
    route(Get, "/v1/providers/{id}/a2a", WorkPublisher, Scope(READ)),
    route(Post, "/v1/providers/{id}/agent-card", WorkPublisher, Scope(PROVIDERS_WRITE)),
    route(Post, "/v1/subscriptions", WorkPublisher, Scope(PROVIDERS_WRITE)),
    route(Get, "/v1/subscriptions", WorkPublisher, Scope(READ)),
    route(Post, "/v1/work", WorkPublisher, Scope(WORK_SUBMIT)),
    route(Get, "/v1/work", WorkPublisher, Scope(READ)),
    route(Get, "/v1/work/{id}", WorkPublisher, Scope(READ)),
    route(Post, "/v1/work/{id}/cancel", WorkPublisher, Scope(WORK_SUBMIT)),
    route(Post, "/v1/bids", WorkPublisher, Scope(BIDS_SUBMIT)),
    route(Get, "/v1/work/{id}/bids", WorkPublisher, Scope(READ)),
    route(Post, "/v1/work/{id}/award", WorkPublisher, Scope(CONTRACTS_WRITE)),
    route(Get, "/v1/contracts/{id}", WorkPublisher, Scope(READ)),
    route(Post, "/v1/contracts/{id}/progress", WorkPublisher, Scope(CONTRACTS_WRITE)),
    route(Post, "/v1/contracts/{id}/complete", WorkPublisher, Scope(CONTRACTS_WRITE)),
    route(Post, "/v1/contracts/{id}/fail", WorkPublisher, Scope(CONTRACTS_WRITE)),
    // Evaluation.
    route(Get, "/v1/work/{id}/evaluation", BidEvaluator, Scope(READ)),
    // Money.
    route(Get, "/v1/balance", Settlement, Scope(READ)),
    route(Post, "/v1/deposits", Settlement, Scope(BILLING_WRITE)),
    route(Post, "/v1/withdrawals", Settlement, Scope(BILLING_WRITE)),
    route(Get, "/v1/usage", Settlement, Scope(READ)),
    route(Get, "/v1/usage/transactions", Settlement, Scope(READ)),
    route(Get, "/v1/accounts", Settlement, Scope(READ)),
    route(Get, "/v1/accounts/{id}", Settlement, Scope(READ)),
    route(Get, "/v1/accounts/{id}/entries", Settlement, Scope(READ)),
    route(Post, "/v1/transfers", Settlement, Scope(BILLING_WRITE)),
    route(Get, "/v1/settlements/{contract_id}", Settlement, Scope(READ)),
    route(Get, "/v1/settlements/{contract_id}/receipt", Settlement, Scope(READ)),
    route(Post, "/v1/receipts/verify", Settlement, Scope(READ)),
    // Beyond API.md: the published receipt keys, for verifying receipts offline.
    route(Get, "/v1/receipts/keys", Settlement, Public),
    // Beyond API.md: the operator rotates the receipt signing key (retired versions still verify).
    route(Post, "/v1/receipts/keys/rotate", Settlement, Scope(ADMIN)),
    route(Get, "/v1/fees/policy", Settlement, Scope(READ)),
    route(Get, "/v1/fees/tiers/{provider_id}", Settlement, Scope(READ)),
    route(Get, "/v1/audit/deals/{contract_id}/replay", Settlement, Scope(READ)),
    route(Get, "/v1/audit/agents/{provider_id}/revenue", Settlement, Scope(READ)),
    route(Get, "/v1/audit/journal", Settlement, Scope(ADMIN)),
    route(Get, "/v1/audit/journal/verify", Settlement, Scope(ADMIN)),
    route(Get, "/v1/market/feed", Settlement, Public),
    route(Get, "/v1/market/feed/premium", Settlement, Scope(READ)),
    // Certificates and reputation.
    route(Post, "/v1/certificates/request", Certauth, Scope(CERTS_ISSUE)),
    route(Post, "/v1/certificates/requests/{id}/approve", Certauth, Scope(ADMIN)),
    route(Post, "/v1/certificates/requests/{id}/reject", Certauth, Scope(ADMIN)),
    route(Get, "/v1/certificates/{id}", Certauth, Scope(READ)),
    route(Post, "/v1/certificates/{id}/renew", Certauth, Scope(CERTS_ISSUE)),
    route(Delete, "/v1/certificates/{id}", Certauth, Scope(CERTS_ISSUE)),
    route(Post, "/v1/certificates/verify", Certauth, Scope(READ)),
    route(Get, "/v1/certificates/search", Certauth, Scope(READ)),
    route(Get, "/v1/providers/{id}/certificates", Certauth, Scope(READ)),
    route(Get, "/v1/providers/{id}/reputation", Certauth, Scope(READ)),
    route(Get, "/v1/providers/{id}/trust", Certauth, Scope(READ)),
    route(Get, "/v1/reputation/leaderboard", Certauth, Scope(READ)),
    route(Get, "/v1/crl", Certauth, Public),
    route(Get, "/v1/crl.der", Certauth, Public),
    route(Get, "/.well-known/aex-ca.json", Certauth, Public),
    route(Post, "/v1/ca/keys/rotate", Certauth, Scope(ADMIN)),
    route(Post, "/v1/ca/keys/{version}/revoke", Certauth, Scope(ADMIN)),
];

/// The route registered for `verb` and `pattern` (the pattern axum matched, not the raw path).
pub fn find(verb: Verb, pattern: &str) -> Option<&'static Route> {
    ROUTES.iter().find(|r| r.verb == verb && r.pattern == pattern)
}

/// What a matched route requires; anything missing from the table needs `*`.
pub fn required_access(method: &str, pattern: &str) -> Access {
    Verb::parse(method).and_then(|verb| find(verb, pattern)).map(|r| r.access).unwrap_or(Scope(ANY))
}

/// Resolves a concrete path the way the router does: among the patterns that match, a literal
/// segment beats a parameter at the first position where they differ.
pub fn resolve(verb: Verb, path: &str) -> Option<&'static Route> {
    let segments: Vec<&str> = path.split('/').collect();
    let mut best: Option<(&'static Route, Vec<bool>)> = None;
    for route in ROUTES.iter().filter(|r| r.verb == verb) {
        let Some(literals) = match_segments(route.pattern, &segments) else { continue };
        if best.as_ref().is_none_or(|(_, current)| literals > *current) {
            best = Some((route, literals));
        }
    }
    best.map(|(route, _)| route)
}

/// For each segment, whether the pattern matched it literally; `None` when it does not match.
fn match_segments(pattern: &str, path: &[&str]) -> Option<Vec<bool>> {
    let pattern: Vec<&str> = pattern.split('/').collect();
    if pattern.len() != path.len() {
        return None;
    }
    pattern
        .iter()
        .zip(path)
        .map(|(p, s)| {
            if p.starts_with('{') && p.ends_with('}') {
                (!s.is_empty()).then_some(false)
            } else {
                (p == s).then_some(true)
            }
        })
        .collect()
}

/// A concrete path for `pattern`, each parameter replaced by `sample`.
pub fn instantiate(pattern: &str, sample: &str) -> String {
    pattern
        .split('/')
        .map(|segment| if segment.starts_with('{') && segment.ends_with('}') { sample } else { segment })
        .collect::<Vec<_>>()
        .join("/")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn every_route_is_listed_once() {
        let mut seen = HashSet::new();
        for route in ROUTES {
            assert!(seen.insert((route.verb, route.pattern)), "duplicate {} {}", route.verb.as_str(), route.pattern);
        }
    }

    #[test]
    fn no_route_hides_another() {
        for route in ROUTES {
            let path = instantiate(route.pattern, "x1");
            assert_eq!(resolve(route.verb, &path), Some(route), "{} {path}", route.verb.as_str());
        }
    }

    #[test]
    fn the_routes_aex_lost_reach_their_owner() {
        let owner = |verb, path| resolve(verb, path).map(|r| r.service);
        assert_eq!(owner(Post, "/v1/work/w1/award"), Some(WorkPublisher));
        assert_eq!(owner(Get, "/v1/work/w1/evaluation"), Some(BidEvaluator));
        assert_eq!(owner(Get, "/v1/providers/p1/trust"), Some(Certauth));
        assert_eq!(owner(Get, "/v1/providers/p1/reputation"), Some(Certauth));
        assert_eq!(owner(Get, "/v1/providers/p1/certificates"), Some(Certauth));
        assert_eq!(owner(Get, "/v1/providers/p1"), Some(WorkPublisher));
        assert_eq!(owner(Get, "/v1/providers/search"), Some(WorkPublisher));
        assert_eq!(owner(Get, "/v1/certificates/search"), Some(Certauth));
    }

    #[test]
    fn internal_routes_are_not_public() {
        assert_eq!(resolve(Post, "/internal/v1/evaluate"), None);
        assert_eq!(resolve(Post, "/internal/v1/holds"), None);
        assert_eq!(resolve(Get, "/internal/v1/providers/p1/can-perform"), None);
        assert!(ROUTES.iter().all(|r| !r.pattern.starts_with("/internal")));
    }

    #[test]
    fn unmapped_routes_need_star() {
        assert_eq!(required_access("GET", "/v1/secret-admin-thing"), Scope(ANY));
        assert_eq!(required_access("PATCH", "/v1/work"), Scope(ANY));
        assert_eq!(required_access("POST", "/v1/deposits"), Scope(BILLING_WRITE));
    }

    #[test]
    fn only_discovery_tokens_and_anonymous_pki_are_public() {
        let public: Vec<&str> = ROUTES.iter().filter(|r| r.access == Public).map(|r| r.pattern).collect();
        assert_eq!(
            public,
            [
                "/v1/info",
                "/v1/auth/token",
                "/v1/receipts/keys",
                "/v1/market/feed",
                "/v1/crl",
                "/v1/crl.der",
                "/.well-known/aex-ca.json"
            ]
        );
        assert!(ROUTES.iter().filter(|r| r.access == Public).all(|r| r.verb == Get || r.pattern == "/v1/auth/token"));
    }

    #[test]
    fn money_moving_routes_need_billing_write() {
        for path in ["/v1/deposits", "/v1/withdrawals", "/v1/transfers"] {
            assert_eq!(resolve(Post, path).map(|r| r.access), Some(Scope(BILLING_WRITE)), "{path}");
        }
    }
}
