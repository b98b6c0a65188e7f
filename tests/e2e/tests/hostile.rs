//! A hostile tenant, through the real gateway and services: nothing it sends may produce a 5xx,
//! open a breaker every tenant shares, or change another tenant's answers. Requests are raw
//! HTTP (the SDK would refuse to send most of them).

use aex_client::identity::TenantType;
use aex_common::auth::ServiceTokens;
use aex_common::secret::Secret;
use aex_e2e::stack;
use aex_gateway::domain::route::{Access, ROUTES, Route, Service, Verb};
use serde_json::{Value, json};
use std::time::Duration;

/// Path segments and query values no route may pass on: NUL, invalid UTF-8, CR/LF, ESC.
const HOSTILE_SEGMENTS: [&str; 5] = ["x%00", "x%ff", "x%0d%0ay", "%1b%5b31m", "caf%C3"];

/// The answer to one raw request: status and JSON body (`Null` when there is none).
#[derive(Debug)]
struct Answer {
    status: u16,
    body: Value,
}

impl Answer {
    fn code(&self) -> &str {
        self.body["error"]["code"].as_str().unwrap_or("")
    }

    /// Asserts a client error with the standard envelope.
    fn assert_refused(&self, what: &str) {
        assert!((400..500).contains(&self.status), "{what}: {} {}", self.status, self.body);
        assert!(!self.code().is_empty(), "{what}: no error envelope in {}", self.body);
        assert!(self.body["error"]["request_id"].is_string(), "{what}: {}", self.body);
    }
}

enum Credential<'a> {
    None,
    ApiKey(&'a str),
    Bearer(&'a str),
}

async fn send(base: &str, method: &str, path: &str, credential: Credential<'_>, body: Option<Vec<u8>>) -> Answer {
    let client = reqwest::Client::builder().timeout(Duration::from_secs(60)).build().unwrap();
    let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
    let mut request = client.request(method, format!("{base}{path}"));
    request = match credential {
        Credential::None => request,
        Credential::ApiKey(key) => request.header("x-api-key", key),
        Credential::Bearer(token) => request.bearer_auth(token),
    };
    if let Some(body) = body {
        request = request.header("content-type", "application/json").body(body);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let bytes = response.bytes().await.unwrap();
    Answer { status, body: serde_json::from_slice(&bytes).unwrap_or(Value::Null) }
}

/// Sends a body the server may refuse before reading it (a 413 on `Content-Length`) as careful
/// clients such as curl do: with `Expect: 100-continue`, writing the body only once the server
/// asks for it. (Written anyway, an unread body makes the server's close a reset, and the
/// answer is lost.)
async fn send_oversized(base: &str, path: &str, credential: Credential<'_>, body: Vec<u8>) -> Answer {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let address = base.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
    let auth = match credential {
        Credential::None => String::new(),
        Credential::ApiKey(key) => format!("x-api-key: {key}\r\n"),
        Credential::Bearer(token) => format!("authorization: Bearer {token}\r\n"),
    };
    let head = format!(
        "POST {path} HTTP/1.1\r\nhost: {address}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n{auth}expect: 100-continue\r\nconnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    let mut buffer = [0u8; 8192];
    // Until the first complete head: `100 Continue`, or the final answer.
    while !answer.windows(4).any(|w| w == b"\r\n\r\n") {
        let read = stream.read(&mut buffer).await.unwrap();
        assert!(read > 0, "the server closed without answering");
        answer.extend_from_slice(&buffer[..read]);
    }
    if answer.starts_with(b"HTTP/1.1 100") {
        answer.clear();
        stream.write_all(&body).await.unwrap();
    }
    let _ = stream.read_to_end(&mut answer).await;
    let text = String::from_utf8_lossy(&answer);
    let status = text.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    let body = text.split_once("\r\n\r\n").map(|(_, body)| body).unwrap_or_default();
    Answer { status, body: serde_json::from_str(body).unwrap_or(Value::Null) }
}

/// `pattern` with every parameter set to `value` except the one at `hostile`, set to `bad`.
fn fill(pattern: &str, hostile: Option<(usize, &str)>) -> String {
    let mut index = 0;
    pattern
        .split('/')
        .map(|segment| {
            if segment.starts_with('{') {
                index += 1;
                match hostile {
                    Some((at, bad)) if at == index - 1 => bad.to_string(),
                    _ => "abc123".to_string(),
                }
            } else {
                segment.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}

fn parameters(pattern: &str) -> usize {
    pattern.split('/').filter(|s| s.starts_with('{')).count()
}

fn service_url(name: &str) -> String {
    stack().services.iter().find(|(n, _)| *n == name).map(|(_, s)| s.base_url.clone()).unwrap()
}

fn service_tokens() -> ServiceTokens {
    ServiceTokens::new(&Secret::new(stack().token_secret.clone()), Duration::from_secs(300)).unwrap()
}

/// An operator's service token, as the gateway would mint it: passes every scope check.
fn operator_token() -> String {
    service_tokens().mint("gateway", Some("tenant_operator"), &["admin".to_string()], None).unwrap()
}

/// A tenant's service token with every tenant scope (none of the operator's).
fn tenant_token() -> String {
    let scopes =
        ["read", "work:submit", "bids:submit", "contracts:write", "providers:write", "billing:write", "certs:issue"];
    let scopes: Vec<String> = scopes.iter().map(|s| s.to_string()).collect();
    let tenant = aex_types::TenantId::new().to_string();
    service_tokens().mint("gateway", Some(&tenant), &scopes, None).unwrap()
}

async fn tenant_key(tenant_type: TenantType) -> (String, String) {
    let (created, _) = stack().tenant(tenant_type).await;
    (created.tenant.id.to_string(), created.api_key.secret().unwrap().expose().to_string())
}

/// A new tenant's key and its account, with `amount` deposited ("0": none).
async fn funded_tenant(amount: &str) -> (String, String) {
    let gateway = &stack().gateway.base_url;
    let (_, key) = tenant_key(TenantType::Both).await;
    if amount != "0" {
        let body = serde_json::to_vec(&json!({ "amount": amount })).unwrap();
        let deposit = send(gateway, "POST", "/v1/deposits", Credential::ApiKey(&key), Some(body)).await;
        assert_eq!(deposit.status, 201, "{}", deposit.body);
    }
    // A balance read opens the tenant's account.
    send(gateway, "GET", "/v1/balance", Credential::ApiKey(&key), None).await;
    let answer = send(gateway, "GET", "/v1/accounts", Credential::ApiKey(&key), None).await;
    let account = answer.body["accounts"][0]["id"].as_str().unwrap().to_string();
    (key, account)
}

/// Every route with a path parameter, and where it is answered directly.
fn routes_with_parameters() -> impl Iterator<Item = &'static Route> {
    ROUTES.iter().filter(|r| parameters(r.pattern) > 0)
}

#[tokio::test]
async fn hostile_text_in_any_path_parameter_is_refused_with_400() {
    let gateway = &stack().gateway.base_url;
    let admin = &stack().admin_key;
    let (_, key) = tenant_key(TenantType::Both).await;
    let token = operator_token();
    let mut checked = 0;
    for route in routes_with_parameters() {
        for at in 0..parameters(route.pattern) {
            for bad in HOSTILE_SEGMENTS {
                let path = fill(route.pattern, Some((at, bad)));
                let what = format!("{} {path}", route.verb.as_str());
                let body = (route.verb == Verb::Post).then(|| b"{}".to_vec());
                for credential in [Credential::ApiKey(admin), Credential::ApiKey(&key)] {
                    let answer = send(gateway, route.verb.as_str(), &path, credential, body.clone()).await;
                    answer.assert_refused(&what);
                    assert_eq!((answer.status, answer.code()), (400, "INVALID_CHARACTERS"), "{what}: {}", answer.body);
                }
                if route.service != Service::Gateway {
                    let direct = service_url(route.service.name());
                    let answer =
                        send(&direct, route.verb.as_str(), &path, Credential::Bearer(&token), body.clone()).await;
                    assert_eq!(
                        (answer.status, answer.code()),
                        (400, "INVALID_CHARACTERS"),
                        "direct {what}: {}",
                        answer.body
                    );
                }
                checked += 1;
            }
        }
    }
    println!("hostile path parameters: {checked} paths refused through the gateway and directly");
    assert!(checked > 100, "the route table has its parameters ({checked})");
}

#[tokio::test]
async fn hostile_text_in_query_strings_is_refused_with_400() {
    let gateway = &stack().gateway.base_url;
    let (_, key) = tenant_key(TenantType::Both).await;
    for route in ROUTES.iter().filter(|r| r.verb == Verb::Get) {
        for query in ["limit=%00", "q=a%0d%0ab", "offset=%ff"] {
            let path = format!("{}?{query}", fill(route.pattern, None));
            let answer = send(gateway, "GET", &path, Credential::ApiKey(&key), None).await;
            assert_eq!((answer.status, answer.code()), (400, "INVALID_CHARACTERS"), "GET {path}: {}", answer.body);
        }
    }
}

#[tokio::test]
async fn hostile_json_on_every_post_route_is_refused_never_a_server_error() {
    let gateway = &stack().gateway.base_url;
    let admin = &stack().admin_key;
    // Directly, as a tenant: an operator's token would really rotate keys on routes that read
    // no body.
    let token = tenant_token();
    let bodies: [(&[u8], &str); 4] = [
        (br#"{"name":"a\u0000b","amount":"1.00"}"#, "INVALID_CHARACTERS"),
        (br#"{"reference":"\u001b[2J"}"#, "INVALID_CHARACTERS"),
        (br#"{"amount":"1.00","amount":"2.00"}"#, "DUPLICATE_JSON_KEY"),
        (br#"[{"id":"t-1","id":"t-2"}]"#, "DUPLICATE_JSON_KEY"),
    ];
    for route in ROUTES.iter().filter(|r| r.verb == Verb::Post) {
        let path = fill(route.pattern, None);
        for (body, code) in bodies {
            let what = format!("POST {path} {}", String::from_utf8_lossy(body));
            let answer = send(gateway, "POST", &path, Credential::ApiKey(admin), Some(body.to_vec())).await;
            answer.assert_refused(&what);
            if route.service != Service::Gateway {
                // The gateway refuses it before forwarding; the service would too.
                assert_eq!((answer.status, answer.code()), (400, code), "{what}: {}", answer.body);
                let direct = service_url(route.service.name());
                let answer = send(&direct, "POST", &path, Credential::Bearer(&token), Some(body.to_vec())).await;
                assert!(answer.status < 500, "direct {what}: {} {}", answer.status, answer.body);
            }
        }
    }
}

#[tokio::test]
async fn money_routes_take_only_decimal_strings_and_known_fields() {
    let gateway = &stack().gateway.base_url;
    let (key, mine) = funded_tenant("10.00").await;
    let (other_key, theirs) = funded_tenant("0").await;
    let transfer = |amount: Value| json!({ "id": format!("t-{}", aex_testkit::unique_suffix()), "debit_account_id": mine, "credit_account_id": theirs, "amount": amount });
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("/v1/deposits", br#"{"amount":1}"#.to_vec(), "INVALID_AMOUNT"),
        ("/v1/deposits", br#"{"amount":1.5}"#.to_vec(), "INVALID_AMOUNT"),
        ("/v1/deposits", br#"{"amount":"1.00","tenant_id":"tenant_someone_else"}"#.to_vec(), "VALIDATION_ERROR"),
        ("/v1/deposits", br#"{"amount":"1.00","amount":"900.00"}"#.to_vec(), "DUPLICATE_JSON_KEY"),
        ("/v1/deposits", br#"{"amount":"1.00","payment_reference":"a\r\nb"}"#.to_vec(), "INVALID_CHARACTERS"),
        ("/v1/deposits", br#"{"amount":"1.001"}"#.to_vec(), "TOO_MANY_FRACTION_DIGITS"),
        ("/v1/withdrawals", br#"{"amount":1}"#.to_vec(), "INVALID_AMOUNT"),
        ("/v1/withdrawals", br#"{"amount":"1.00","to":"elsewhere"}"#.to_vec(), "VALIDATION_ERROR"),
        ("/v1/transfers", serde_json::to_vec(&transfer(json!(1))).unwrap(), "INVALID_AMOUNT"),
        ("/v1/transfers", serde_json::to_vec(&transfer(json!(0.5))).unwrap(), "INVALID_AMOUNT"),
        ("/v1/transfers", serde_json::to_vec(&[transfer(json!(2))]).unwrap(), "INVALID_AMOUNT"),
        (
            "/v1/transfers",
            format!(r#"{{"id":"dup-{}","debit_account_id":"{theirs}","debit_account_id":"{mine}","credit_account_id":"{theirs}","amount":"1.00"}}"#, aex_testkit::unique_suffix())
                .into_bytes(),
            "DUPLICATE_JSON_KEY",
        ),
        (
            "/v1/transfers",
            serde_json::to_vec(&{
                let mut t = transfer(json!("1.00"));
                t["tenant_id"] = json!("tenant_other");
                t
            })
            .unwrap(),
            "VALIDATION_ERROR",
        ),
        (
            "/v1/transfers",
            serde_json::to_vec(&{
                let mut t = transfer(json!("1.00"));
                t["reference"] = json!("line\nbreak");
                t
            })
            .unwrap(),
            "INVALID_CHARACTERS",
        ),
    ];
    for (path, body, code) in cases {
        let what = format!("POST {path} {}", String::from_utf8_lossy(&body));
        let answer = send(gateway, "POST", path, Credential::ApiKey(&key), Some(body)).await;
        assert_eq!((answer.status, answer.code()), (400, code), "{what}: {}", answer.body);
    }
    // Nothing was persisted: one deposit, no transfer.
    let balance = send(gateway, "GET", "/v1/balance", Credential::ApiKey(&key), None).await;
    assert_eq!(balance.body["balance_minor"], 1000, "{}", balance.body);
    let entries = send(gateway, "GET", &format!("/v1/accounts/{mine}/entries"), Credential::ApiKey(&key), None).await;
    assert_eq!(entries.body["total"], 1, "{}", entries.body);
    let theirs_balance = send(gateway, "GET", "/v1/balance", Credential::ApiKey(&other_key), None).await;
    assert_eq!(theirs_balance.body["balance_minor"], 0, "{}", theirs_balance.body);
}

/// The breaker states every client in the process reports (`aex_circuit_breaker_state`).
async fn breaker_states() -> Vec<String> {
    let metrics = reqwest::get(format!("{}/metrics", stack().gateway.base_url)).await.unwrap().text().await.unwrap();
    metrics.lines().filter(|l| l.starts_with("aex_circuit_breaker_state{")).map(str::to_string).collect()
}

#[tokio::test]
async fn one_tenants_worst_requests_leave_another_tenants_answers_unchanged() {
    let gateway = stack().gateway.base_url.clone();
    let (_, attacker) = tenant_key(TenantType::Both).await;
    let (_, neighbour) = tenant_key(TenantType::Both).await;
    let seed = send(
        &gateway,
        "POST",
        "/v1/deposits",
        Credential::ApiKey(&neighbour),
        Some(br#"{"amount":"100.00"}"#.to_vec()),
    )
    .await;
    assert_eq!(seed.status, 201, "{}", seed.body);

    // What used to answer 500 (and open the shared breakers), and other abuse besides.
    let worst: Vec<(&str, &str, Option<Vec<u8>>)> = vec![
        ("GET", "/v1/accounts/x%00", None),
        ("GET", "/v1/accounts/x%00/entries", None),
        ("GET", "/v1/certificates/x%00", None),
        ("GET", "/v1/settlements/x%00/receipt", None),
        ("GET", "/v1/audit/deals/x%00/replay", None),
        ("GET", "/v1/fees/tiers/x%00", None),
        ("POST", "/v1/deposits", Some(br#"{"amount":"0.01","payment_reference":"x\u0000y"}"#.to_vec())),
        ("POST", "/v1/transfers", Some(br#"{"id":"a","id":"b"}"#.to_vec())),
        ("POST", "/v1/transfers", Some(b"[".repeat(200))),
        ("GET", "/v1/providers/search?offset=-5", None),
        ("POST", "/v1/certificates/verify", Some(br#"{"certificate_id":"\u0000"}"#.to_vec())),
    ];
    let attack = async {
        let mut statuses = Vec::new();
        for round in 0..50 {
            let (method, path, body) = &worst[round % worst.len()];
            let answer = send(&gateway, method, path, Credential::ApiKey(&attacker), body.clone()).await;
            answer.assert_refused(&format!("attack {method} {path}"));
            statuses.push(answer.status);
        }
        statuses
    };
    let neighbour_rounds = async {
        let mut answers = Vec::new();
        for round in 0..25 {
            let key = format!("neighbour-{}-{round}", aex_testkit::unique_suffix());
            let body = br#"{"amount":"1.00"}"#.to_vec();
            let client = reqwest::Client::new();
            let deposit = client
                .post(format!("{gateway}/v1/deposits"))
                .header("x-api-key", &neighbour)
                .header("idempotency-key", key)
                .header("content-type", "application/json")
                .body(body)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16();
            answers.push(("deposit", deposit));
            answers.push((
                "balance",
                send(&gateway, "GET", "/v1/balance", Credential::ApiKey(&neighbour), None).await.status,
            ));
            answers.push(("feed", send(&gateway, "GET", "/v1/market/feed", Credential::None, None).await.status));
            answers.push(("crl", send(&gateway, "GET", "/v1/crl", Credential::None, None).await.status));
            answers.push((
                "leaderboard",
                send(&gateway, "GET", "/v1/reputation/leaderboard", Credential::ApiKey(&neighbour), None).await.status,
            ));
        }
        answers
    };
    let (attacked, served) = tokio::join!(attack, neighbour_rounds);
    assert_eq!(attacked.len(), 50);
    for (what, status) in &served {
        assert!((200..300).contains(status), "the neighbour's {what} answered {status} during the attack");
    }
    let balance = send(&gateway, "GET", "/v1/balance", Credential::ApiKey(&neighbour), None).await;
    assert_eq!(balance.body["balance_minor"], 12_500, "every deposit of the neighbour took effect once");
    for state in breaker_states().await {
        assert!(state.ends_with(" 0"), "a breaker left closed: {state}");
    }
}

#[tokio::test]
async fn every_service_route_requires_a_service_token_except_the_public_documents() {
    let internal: [(&str, &str, &str); 9] = [
        ("settlement", "POST", "/internal/v1/holds"),
        ("settlement", "POST", "/internal/settlement/complete"),
        ("work-publisher", "GET", "/internal/v1/work/{id}/bids"),
        ("bid-evaluator", "POST", "/internal/v1/evaluate"),
        ("certauth", "POST", "/internal/v1/certificates/{id}/approve"),
        ("certauth", "POST", "/internal/v1/certificates/{id}/reject"),
        ("certauth", "POST", "/internal/v1/certificates/batch-verify"),
        ("certauth", "GET", "/internal/v1/providers/{id}/can-perform"),
        ("certauth", "POST", "/internal/v1/providers/trust"),
    ];
    let public: Vec<(&str, &str)> = ROUTES
        .iter()
        .filter(|r| r.access == Access::Public && r.service != Service::Gateway)
        .map(|r| (r.service.name(), r.pattern))
        .collect();
    // What the services leave open is exactly what the gateway serves anonymously.
    let declared: Vec<(&str, &str)> = [
        ("settlement", aex_settlement::PUBLIC_ROUTES),
        ("work-publisher", aex_work_publisher::PUBLIC_ROUTES),
        ("bid-evaluator", aex_bid_evaluator::PUBLIC_ROUTES),
        ("certauth", aex_certauth::PUBLIC_ROUTES),
    ]
    .into_iter()
    .flat_map(|(service, routes)| routes.iter().map(move |pattern| (service, *pattern)))
    .collect();
    let mut sorted = (public.clone(), declared);
    sorted.0.sort();
    sorted.1.sort();
    assert_eq!(sorted.0, sorted.1);

    let routes = ROUTES
        .iter()
        .filter(|r| r.service != Service::Gateway)
        .map(|r| (r.service.name(), r.verb.as_str(), r.pattern))
        .chain(internal);
    let forged = ServiceTokens::new(
        &Secret::new(format!("forged-{}-0123456789abcdef", aex_testkit::unique_suffix())),
        Duration::from_secs(300),
    )
    .unwrap()
    .mint("gateway", Some("tenant_x"), &["admin".to_string()], None)
    .unwrap();
    let mut guarded = 0;
    for (service, method, pattern) in routes {
        let url = service_url(service);
        let path = fill(pattern, None);
        let body = (method == "POST").then(|| b"{}".to_vec());
        let anonymous = send(&url, method, &path, Credential::None, body.clone()).await;
        if public.contains(&(service, pattern)) {
            assert_eq!(anonymous.status, 200, "{service} {method} {path} is public: {}", anonymous.body);
            continue;
        }
        assert_eq!((anonymous.status, anonymous.code()), (401, "AUTHENTICATION_REQUIRED"), "{service} {method} {path}");
        let forged = send(&url, method, &path, Credential::Bearer(&forged), body).await;
        assert_eq!(
            (forged.status, forged.code()),
            (401, "INVALID_TOKEN"),
            "{service} {method} {path} with a forged token"
        );
        guarded += 1;
    }
    println!("service routes refusing callers without a valid service token: {guarded}");
}

#[tokio::test]
async fn a_full_transfer_batch_fits_through_the_gateway_and_the_body_limit_is_exact() {
    let gateway = &stack().gateway.base_url;
    let (key, from) = funded_tenant("81.89").await;
    let (payee, to) = funded_tenant("0").await;
    let prefix = aex_testkit::unique_suffix();
    let batch: Vec<Value> = (0..aex_api::limits::MAX_TRANSFER_BATCH)
        .map(|i| json!({ "id": format!("b-{prefix}-{i}"), "debit_account_id": from, "credit_account_id": to, "amount": "0.01" }))
        .collect();
    let body = serde_json::to_vec(&batch).unwrap();
    assert!(body.len() > 1024 * 1024, "a full batch is over the default 1 MiB ({} bytes)", body.len());
    let answer = send(gateway, "POST", "/v1/transfers", Credential::ApiKey(&key), Some(body)).await;
    assert_eq!(answer.status, 200, "{}", answer.body["error"]);
    assert_eq!(answer.body["committed"], 8189);
    let balance = send(gateway, "GET", "/v1/balance", Credential::ApiKey(&payee), None).await;
    assert_eq!(balance.body["balance_minor"], 8189);

    // Exactly at the limit passes the gateway (and is refused by the ledger for what it says);
    // one byte more is a 413 with the envelope, from the gateway and from settlement itself.
    let padded = |size: usize| {
        let mut body = String::from("[");
        body.push_str(&" ".repeat(size - 2));
        body.push(']');
        body.into_bytes()
    };
    let limit = aex_api::limits::TRANSFER_BATCH_BODY_BYTES;
    let at_limit = send(gateway, "POST", "/v1/transfers", Credential::ApiKey(&key), Some(padded(limit))).await;
    assert_eq!((at_limit.status, at_limit.code()), (400, "BATCH_SIZE_INVALID"), "{}", at_limit.body);
    let over = send_oversized(gateway, "/v1/transfers", Credential::ApiKey(&key), padded(limit + 1)).await;
    assert_eq!((over.status, over.code()), (413, "PAYLOAD_TOO_LARGE"), "{}", over.body);
    let token = tenant_token();
    let direct =
        send_oversized(&service_url("settlement"), "/v1/transfers", Credential::Bearer(&token), padded(limit + 1))
            .await;
    assert_eq!((direct.status, direct.code()), (413, "PAYLOAD_TOO_LARGE"), "{}", direct.body);
    // Other routes keep 1 MiB.
    let over = send_oversized(gateway, "/v1/deposits", Credential::ApiKey(&key), padded(1024 * 1024 + 1)).await;
    assert_eq!((over.status, over.code()), (413, "PAYLOAD_TOO_LARGE"), "{}", over.body);
}
