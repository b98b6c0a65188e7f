//! `aex demo`: the marketplace story end to end through the gateway, every step checked.
//!
//! Operator creates a consumer and three providers; providers register, subscribe, make P-256
//! keys and CSRs, and are certified; the consumer deposits and submits work; providers bid; the
//! window closes, the evaluator ranks, the best bid is awarded into escrow; the winner reports
//! progress and completes; settlement pays out with fees; reputation updates; the receipt and the
//! journal chain verify offline. Then a failure path: a contract fails, the hold is released and
//! the consumer is whole again. Exit status 0 only if every step checked out.

use crate::cli::{DemoArgs, Global};
use crate::commands::{export_journal, journal_report_text};
use crate::output::{CliError, Out, delta, money, score, table};
use crate::verify;
use aex_client::certificates::{CertificateRequest, CertificateType, Claim, KeyMaterial};
use aex_client::evaluation::Evaluation;
use aex_client::identity::{NewTenant, TenantType};
use aex_client::marketplace::{
    Award, Budget, Contract, ContractFailure, ContractResult, Delivery, ListWork, NewBid, NewProvider, NewSubscription,
    NewWork, ProgressReport, Sla, SubscriptionFilters,
};
use aex_client::money::{Balance, Funds, Settlement};
use aex_client::{Client, PageParams};
use aex_types::{Currency, Money, ProviderId, TenantId, Timestamp, WorkId};
use serde_json::{Value, json};
use std::future::Future;
use std::time::{Duration, Instant};

type Result<T> = std::result::Result<T, CliError>;

const CURRENCY: Currency = Currency::USD;
const DEPOSIT_MINOR: i64 = 100_000;
const MAX_PRICE_MINOR: i64 = 10_000;

/// One provider agent of the story and how it bids.
struct Agent {
    label: &'static str,
    client: Client,
    tenant_id: TenantId,
    provider_id: ProviderId,
    certificate_id: String,
    price_minor: i64,
    confidence: f64,
    latency_ms: i64,
    sample: bool,
}

/// The three agents' bidding styles: cheap, balanced, premium with a sample.
const AGENTS: [(&str, i64, f64, i64, bool); 3] = [
    ("Lingua", 7_250, 0.90, 40_000, false),
    ("Babel", 6_400, 0.75, 90_000, false),
    ("Rosetta", 8_500, 0.97, 20_000, true),
];

/// Prints numbered steps and counts them.
struct Story {
    out: Out,
    steps: usize,
    started: Instant,
}

impl Story {
    fn step(&mut self, text: impl AsRef<str>) {
        self.steps += 1;
        self.out.progress(&format!("[{:>2}] ✓ {}", self.steps, text.as_ref()));
    }

    fn detail(&self, text: impl AsRef<str>) {
        for line in text.as_ref().lines() {
            self.out.progress(&format!("       {line}"));
        }
    }
}

fn ensure(condition: bool, message: impl FnOnce() -> String) -> Result<()> {
    if condition { Ok(()) } else { Err(CliError::Check(message())) }
}

/// Polls `probe` every 250 ms until it yields a value or `limit` passes, printing a dot a second.
async fn wait_for<T, F, Fut>(out: Out, what: &str, limit: Duration, mut probe: F) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Option<T>>>,
{
    let started = Instant::now();
    let mut dots = 0;
    loop {
        if let Some(value) = probe().await? {
            if dots > 0 {
                out.progress("");
            }
            return Ok(value);
        }
        if started.elapsed() >= limit {
            if dots > 0 {
                out.progress("");
            }
            return Err(CliError::Check(format!("timed out after {}s waiting for {what}", limit.as_secs())));
        }
        if started.elapsed().as_millis() / 1_000 >= dots {
            if dots == 0 {
                if out.json {
                    eprint!("       waiting for {what} ");
                } else {
                    print!("       waiting for {what} ");
                }
            }
            out.tick();
            dots += 1;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// `Ok(None)` for the answers that mean "not there yet" (404, 409), the error otherwise.
fn pending<T>(result: aex_client::Result<T>) -> Result<Option<T>> {
    match result {
        Ok(value) => Ok(Some(value)),
        Err(error) if error.is_not_found() || error.is_conflict() => Ok(None),
        Err(error) => Err(error.into()),
    }
}

fn usd(minor: i64) -> Money {
    Money::from_minor(minor, CURRENCY)
}

fn in_an_hour() -> Result<Timestamp> {
    Timestamp::from_unix_millis(Timestamp::now().unix_millis() + 3_600_000)
        .map_err(|e| CliError::check(format!("clock: {e}")))
}

/// A fresh P-256 key from the OS RNG.
fn generate_key() -> Result<p256::ecdsa::SigningKey> {
    for _ in 0..16 {
        let mut bytes = [0u8; 32];
        getrandom::fill(&mut bytes).map_err(|e| CliError::check(format!("random: {e}")))?;
        let key = p256::ecdsa::SigningKey::from_slice(&bytes);
        bytes.fill(0);
        if let Ok(key) = key {
            return Ok(key);
        }
    }
    Err(CliError::check("could not generate a P-256 key"))
}

/// A PKCS#10 CSR for `common_name`, signed by `key` (proof of possession), as PEM.
pub fn csr_pem(common_name: &str, key: &p256::ecdsa::SigningKey) -> Result<String> {
    use x509_cert::builder::Builder;
    use x509_cert::der::EncodePem;
    let name: x509_cert::name::Name =
        format!("CN={common_name}").parse().map_err(|e| CliError::check(format!("CSR name: {e}")))?;
    let csr = x509_cert::request::RequestBuilder::new(name)
        .map_err(|e| CliError::check(format!("CSR: {e}")))?
        .build::<_, p256::ecdsa::DerSignature>(key)
        .map_err(|e| CliError::check(format!("CSR: {e}")))?;
    csr.to_pem(x509_cert::der::pem::LineEnding::LF).map_err(|e| CliError::check(format!("CSR PEM: {e}")))
}

async fn balance(client: &Client) -> Result<Balance> {
    Ok(client.balance().get(Some(CURRENCY)).await?)
}

pub async fn run(global: &Global, out: Out, args: DemoArgs) -> Result<()> {
    let mut story = Story { out, steps: 0, started: Instant::now() };
    let result = tell(global, &mut story, args).await;
    if let Err(error) = &result {
        out.progress(&format!("[{:>2}] ✗ {} ({} steps passed before)", story.steps + 1, error.render(), story.steps));
    }
    result
}

async fn tell(global: &Global, story: &mut Story, args: DemoArgs) -> Result<()> {
    let out = story.out;
    let limit = Duration::from_secs(args.wait_secs);
    let suffix = uuid::Uuid::new_v4().simple().to_string()[..8].to_string();
    let category = format!("translation.demo-{suffix}");

    // --- operator: tenants ---------------------------------------------------------------
    let anonymous = global.anonymous()?;
    let info = anonymous.gateway().info().await?;
    let operator = global.operator()?;
    story.step(format!("gateway {} {} at {}", info.name, info.version, global.gateway_url));

    let consumer_created =
        operator.tenants().create(&NewTenant::new(format!("Demo Consumer {suffix}"), TenantType::Requestor)).await?;
    let consumer = global.with_key(consumer_created.api_key.secret()?.expose())?;
    let mut agents = Vec::new();
    for (label, price_minor, confidence, latency_ms, sample) in AGENTS {
        let created =
            operator.tenants().create(&NewTenant::new(format!("{label} {suffix}"), TenantType::Provider)).await?;
        agents.push(Agent {
            label,
            client: global.with_key(created.api_key.secret()?.expose())?,
            tenant_id: created.tenant.id,
            provider_id: ProviderId::new(),
            certificate_id: String::new(),
            price_minor,
            confidence,
            latency_ms,
            sample,
        });
    }
    story.step(format!(
        "operator created consumer {} and providers {}",
        consumer_created.tenant.id,
        agents.iter().map(|a| format!("{} ({})", a.label, a.tenant_id)).collect::<Vec<_>>().join(", ")
    ));

    // --- providers: profiles, subscriptions, keys, certificates ---------------------------
    for agent in &mut agents {
        let created = agent
            .client
            .providers()
            .create(&NewProvider {
                name: format!("{} Translator {suffix}", agent.label),
                description: Some(format!("{} translates legal documents", agent.label)),
                endpoint: format!("https://{}.agents.example/a2a", agent.label.to_lowercase()),
                capabilities: vec!["translation".into(), "en-de".into()],
                contact_email: format!("ops@{}.example", agent.label.to_lowercase()),
                ..NewProvider::default()
            })
            .await?;
        ensure(created.status == "ACTIVE", || format!("{} profile is {}", agent.label, created.status))?;
        agent.provider_id = created.provider_id;
        agent
            .client
            .subscriptions()
            .create(&NewSubscription {
                provider_id: agent.provider_id.clone(),
                categories: vec![category.clone()],
                filters: SubscriptionFilters::default(),
                delivery: Delivery::polling(),
            })
            .await?;
    }
    story.step(format!(
        "providers registered and subscribed to {category}: {}",
        agents.iter().map(|a| format!("{}={}", a.label, a.provider_id)).collect::<Vec<_>>().join(", ")
    ));

    for agent in &mut agents {
        let key = generate_key()?;
        let request = agent
            .client
            .certificates()
            .request(&CertificateRequest {
                provider_id: agent.provider_id.to_string(),
                agent_name: format!("{} Translator", agent.label),
                certificate_type: CertificateType::Capability,
                claims: vec![Claim {
                    category: "translation".into(),
                    capability: "en-de".into(),
                    scope: None,
                    authorization: "FULL".into(),
                }],
                key: KeyMaterial::CsrPem(csr_pem(&format!("{} Translator", agent.label), &key)?),
            })
            .await?;
        ensure(request.status == "PENDING", || format!("{} certificate request is {}", agent.label, request.status))?;
        let certificate = operator.certificates().approve(&request.request_id).await?;
        let verdict = agent.client.certificates().verify(certificate.certificate_id.as_str()).await?;
        ensure(verdict.valid, || format!("{} certificate does not verify: {:?}", agent.label, verdict.reason))?;
        agent.certificate_id = certificate.certificate_id.to_string();
        story.detail(format!(
            "{}: P-256 key + CSR -> request {} approved -> {} (serial {}, valid)",
            agent.label, request.request_id, certificate.certificate_id, certificate.serial
        ));
    }
    story.step("providers generated P-256 keys, sent CSRs, the operator approved, certauth verifies all three");

    // --- consumer: money and work ---------------------------------------------------------
    consumer
        .deposits()
        .idempotency_key(format!("demo-{suffix}-deposit"))
        .create(&Funds::new(usd(DEPOSIT_MINOR)))
        .await?;
    let consumer_start = balance(&consumer).await?;
    ensure(consumer_start.available_minor == DEPOSIT_MINOR, || {
        format!("consumer available {} after depositing {}", consumer_start.available, money(DEPOSIT_MINOR, CURRENCY))
    })?;
    let mut provider_start = Vec::new();
    for agent in &agents {
        provider_start.push(balance(&agent.client).await?);
    }
    story.step(format!(
        "consumer deposited {}; available {}",
        money(DEPOSIT_MINOR, CURRENCY),
        consumer_start.available()
    ));

    let round =
        bidding_round(story, &consumer, &agents, &category, args.bid_window_ms, limit, "Translate an NDA into German")
            .await?;
    let evaluation = &round.evaluation;

    // --- award, execution, settlement -------------------------------------------------------
    let contract = award(out, &consumer, &round.work_id, limit).await?;
    let best = &evaluation.ranked_bids[0];
    ensure(contract.bid_id == best.bid_id && contract.provider_id == best.provider_id, || {
        format!("awarded bid {} but rank 1 is {}", contract.bid_id, best.bid_id)
    })?;
    let winner = agent_of(&agents, &contract.provider_id)?;
    let held = balance(&consumer).await?;
    ensure(
        held.held_minor == contract.agreed_price_minor
            && held.available_minor == consumer_start.available_minor - contract.agreed_price_minor,
        || format!("after the award the consumer holds {} and has {} available", held.held(), held.available()),
    )?;
    let escrow = consumer.settlements().get(contract.contract_id.as_str()).await?;
    ensure(escrow.status == "HELD", || format!("escrow is {}", escrow.status))?;
    story.step(format!(
        "auto-award: {} wins at {} (contract {}); escrow HELD, consumer available {} held {}",
        winner.label,
        contract.agreed_price(),
        contract.contract_id,
        held.available(),
        held.held()
    ));

    let progressed = winner
        .client
        .contracts()
        .report_progress(
            &contract.contract_id,
            &ProgressReport { status: Some("translating".into()), percent: Some(50), message: Some("halfway".into()) },
        )
        .await?;
    ensure(progressed.progress.percent == Some(50), || "progress was not recorded".into())?;
    let mut metrics = serde_json::Map::new();
    metrics.insert("pages".into(), json!(12));
    let completion = winner
        .client
        .contracts()
        .complete(
            &contract.contract_id,
            &ContractResult {
                success: true,
                result_summary: Some("NDA translated into German".into()),
                metrics: Some(metrics),
                result_location: Some("https://files.example/nda-de.pdf".into()),
            },
        )
        .await?;
    ensure(completion.status == "COMPLETED" && completion.settlement_initiated, || {
        format!("completion answered {} (settlement initiated: {})", completion.status, completion.settlement_initiated)
    })?;
    story.step(format!("{} reported 50% progress and completed the contract", winner.label));

    let settled: Settlement = wait_for(out, "settlement", limit, || async {
        let settlement = consumer.settlements().get(contract.contract_id.as_str()).await?;
        Ok((settlement.status == "SETTLED").then_some(settlement))
    })
    .await?;
    let platform_fee = settled.platform_fee_minor.unwrap_or_default();
    let protocol_fee = settled.protocol_fee_minor.unwrap_or_default();
    let payout = settled.payout_minor.unwrap_or_default();
    ensure(payout + platform_fee + protocol_fee == settled.price_minor && payout > 0, || {
        format!("payout {payout} + fees {platform_fee} + {protocol_fee} != price {}", settled.price_minor)
    })?;
    let consumer_after = balance(&consumer).await?;
    ensure(
        consumer_after.balance_minor == consumer_start.balance_minor - settled.price_minor
            && consumer_after.held_minor == 0,
        || {
            format!(
                "consumer balance {} held {} after paying {}",
                consumer_after.balance(),
                consumer_after.held(),
                settled.price()
            )
        },
    )?;
    let winner_index = agents.iter().position(|a| a.provider_id == winner.provider_id).unwrap_or_default();
    let winner_after = balance(&winner.client).await?;
    ensure(winner_after.balance_minor - provider_start[winner_index].balance_minor == payout, || {
        format!(
            "{} balance grew by {} instead of the payout {}",
            winner.label,
            winner_after.balance_minor - provider_start[winner_index].balance_minor,
            payout
        )
    })?;
    story.step(format!(
        "settled: price {} = payout {} + platform fee {} + protocol fee {} (tier {})",
        settled.price(),
        money(payout, CURRENCY),
        money(platform_fee, CURRENCY),
        money(protocol_fee, CURRENCY),
        settled.tier.clone().unwrap_or_default()
    ));

    // --- receipt, offline -----------------------------------------------------------------
    let receipt = winner.client.settlements().receipt(contract.contract_id.as_str()).await?;
    let keys = anonymous.settlements().receipt_keys().await?;
    let report = verify::verify_receipt(&receipt, &keys);
    ensure(report.valid, || format!("receipt does not verify offline: {:?}", report.reason))?;
    ensure(receipt.receipt.get("payout_minor") == Some(&payout.to_string()), || {
        format!("receipt payout {:?} differs from the settlement's {payout}", receipt.receipt.get("payout_minor"))
    })?;
    let mut forged = receipt.clone();
    forged.receipt.insert("payout_minor".into(), (payout + 1).to_string());
    ensure(!verify::verify_receipt(&forged, &keys).valid, || "a forged receipt verified".into())?;
    story.step(format!(
        "receipt verified offline with published key v{} ({}); a forged copy is refused",
        receipt.key_version, keys.issuer
    ));

    // --- reputation ---------------------------------------------------------------------------
    let reputation = wait_for(out, "reputation", limit, || async {
        let reputation = pending(consumer.reputation().of(winner.provider_id.as_str()).await)?;
        Ok(reputation.filter(|r| r.contracts >= 1 && r.successes >= 1))
    })
    .await?;
    story.step(format!(
        "reputation of {}: score {} tier {} after {} contract(s), {} success(es)",
        winner.label,
        score(reputation.score),
        reputation.tier,
        reputation.contracts,
        reputation.successes
    ));

    // --- failure path -----------------------------------------------------------------------------
    let before_failure = balance(&consumer).await?;
    let round2 =
        bidding_round(story, &consumer, &agents, &category, args.bid_window_ms, limit, "Translate a lease into German")
            .await?;
    let contract2 = award(out, &consumer, &round2.work_id, limit).await?;
    let loser = agent_of(&agents, &contract2.provider_id)?;
    let held2 = balance(&consumer).await?;
    ensure(held2.held_minor == contract2.agreed_price_minor, || format!("second hold is {}", held2.held()))?;
    let failed = loser
        .client
        .contracts()
        .fail(
            &contract2.contract_id,
            &ContractFailure {
                reason: "capacity_exhausted".into(),
                message: Some("the agent ran out of capacity".into()),
            },
        )
        .await?;
    ensure(failed.status == "FAILED", || format!("failed contract is {}", failed.status))?;
    let released = wait_for(out, "the hold release", limit, || async {
        let settlement = consumer.settlements().get(contract2.contract_id.as_str()).await?;
        Ok((settlement.status == "RELEASED").then_some(settlement))
    })
    .await?;
    let whole = balance(&consumer).await?;
    ensure(
        (whole.balance_minor, whole.available_minor, whole.held_minor)
            == (before_failure.balance_minor, before_failure.available_minor, 0),
        || {
            format!(
                "after the release the consumer has {} available, {} before",
                whole.available(),
                before_failure.available()
            )
        },
    )?;
    story.step(format!(
        "failure path: {} failed contract {} ({}); hold of {} RELEASED; consumer whole again at {}",
        loser.label,
        contract2.contract_id,
        failed.failure_reason.clone().unwrap_or_default(),
        released.price(),
        whole.available()
    ));

    // --- journal ------------------------------------------------------------------------------
    let file = export_journal(&operator, out, 1_000).await?;
    let chain = verify::verify_journal(&file, Some(&keys));
    story.detail(journal_report_text(&chain));
    ensure(chain.valid, || format!("journal does not verify offline: {:?}", chain.first_break))?;
    let server = operator.audit().verify_journal().await?;
    ensure(server.valid, || format!("server journal verification: {:?}", server.first_break))?;
    story.step(format!(
        "journal: {} links recomputed offline to head {}; the server agrees ({} accounts balanced)",
        chain.entries_checked, chain.verified_seq, server.accounts_checked
    ));

    // --- summary ------------------------------------------------------------------------------
    let leaderboard = consumer.reputation().leaderboard(PageParams::limit(5)).await?;
    let mut provider_after = Vec::new();
    for agent in &agents {
        provider_after.push(balance(&agent.client).await?);
    }
    let final_consumer = balance(&consumer).await?;
    story.step(format!("every check passed in {:.1}s", story.started.elapsed().as_secs_f32()));

    let summary = Summary {
        consumer: ("Consumer".into(), consumer_start.balance_minor, final_consumer.balance_minor),
        providers: agents
            .iter()
            .zip(provider_start.iter().zip(&provider_after))
            .map(|(a, (before, after))| (a.label.to_string(), before.balance_minor, after.balance_minor))
            .collect(),
        price: settled.price_minor,
        payout,
        platform_fee,
        protocol_fee,
        tier: settled.tier.clone().unwrap_or_default(),
        ranking: evaluation
            .ranked_bids
            .iter()
            .map(|b| {
                let label = agents.iter().find(|a| a.provider_id == b.provider_id).map_or("?", |a| a.label);
                (b.rank, label.to_string(), b.price_minor, b.total_score)
            })
            .collect(),
        leaderboard: leaderboard
            .items
            .iter()
            .map(|e| {
                let name = agents
                    .iter()
                    .find(|a| a.provider_id.as_str() == e.provider_id)
                    .map_or(e.provider_id.clone(), |a| format!("{} ({})", a.label, e.provider_id));
                (e.rank, name, e.score, e.tier.clone(), e.contracts)
            })
            .collect(),
        steps: story.steps,
    };
    out.result(|| summary.text(), &summary.json(&contract, &contract2, &round.work_id, &round2.work_id));
    Ok(())
}

fn agent_of<'a>(agents: &'a [Agent], provider: &ProviderId) -> Result<&'a Agent> {
    agents
        .iter()
        .find(|a| &a.provider_id == provider)
        .ok_or_else(|| CliError::check(format!("{provider} is not one of the demo's providers")))
}

struct Round {
    work_id: WorkId,
    evaluation: Evaluation,
}

/// Submit work, let every agent see it and bid, wait for the window and the ranking.
async fn bidding_round(
    story: &mut Story,
    consumer: &Client,
    agents: &[Agent],
    category: &str,
    bid_window_ms: u32,
    limit: Duration,
    description: &str,
) -> Result<Round> {
    let out = story.out;
    let mut work = NewWork::new(category, description, Budget::new(usd(MAX_PRICE_MINOR)));
    work.bid_window_ms = Some(bid_window_ms);
    work.payload = json!({ "document": "contract.pdf", "target_language": "de" });
    let submitted = consumer.work().submit(&work).await?;
    ensure(submitted.status == "OPEN", || format!("work is {}", submitted.status))?;
    ensure(submitted.providers_notified == 3, || {
        format!("{} providers notified, expected 3", submitted.providers_notified)
    })?;
    story.step(format!(
        "consumer submitted {} ({}, budget {}, window {} ms): {} providers notified",
        submitted.work_id,
        category,
        usd(MAX_PRICE_MINOR),
        bid_window_ms,
        submitted.providers_notified
    ));

    for agent in agents {
        let open =
            agent.client.work().list(&ListWork { status: Some("OPEN".into()), page: PageParams::limit(100) }).await?;
        ensure(open.items.iter().any(|w| w.work_id == submitted.work_id), || {
            format!("{} does not see the open work", agent.label)
        })?;
        agent
            .client
            .bids()
            .submit(&NewBid {
                work_id: submitted.work_id.clone(),
                provider_id: Some(agent.provider_id.clone()),
                price: usd(agent.price_minor),
                price_breakdown: None,
                confidence: agent.confidence,
                approach: format!("{} certified legal translation", agent.label),
                estimated_latency_ms: agent.latency_ms,
                mvp_sample: agent.sample.then(|| json!({ "excerpt": "Vertraulichkeitsvereinbarung" })),
                sla: Sla { max_latency_ms: agent.latency_ms * 2, availability: 0.99 },
                a2a_endpoint: format!("https://{}.agents.example/a2a", agent.label.to_lowercase()),
                expires_at: in_an_hour()?,
            })
            .await?;
    }
    story.step(format!(
        "providers saw the work and bid under seal: {}",
        agents.iter().map(|a| format!("{} {}", a.label, usd(a.price_minor))).collect::<Vec<_>>().join(", ")
    ));

    let work_id = submitted.work_id.clone();
    wait_for(out, "the bid window to close", limit + Duration::from_millis(u64::from(bid_window_ms)), || async {
        let work = consumer.work().get(&work_id).await?;
        Ok((work.status != "OPEN").then_some(()))
    })
    .await?;
    let evaluation =
        wait_for(out, "the ranking", limit, || async { pending(consumer.evaluations().get(&work_id).await) }).await?;
    ensure(evaluation.valid_bids == 3 && evaluation.ranked_bids.len() == 3, || {
        format!("{} valid bids ranked, disqualified {:?}", evaluation.valid_bids, evaluation.disqualified_bids)
    })?;
    story.step(format!(
        "window closed; the evaluator ranked {} bids ({:?} strategy)",
        evaluation.valid_bids, evaluation.strategy
    ));
    let rows: Vec<Vec<String>> = evaluation
        .ranked_bids
        .iter()
        .map(|b| {
            let label = agents.iter().find(|a| a.provider_id == b.provider_id).map_or("?", |a| a.label);
            vec![b.rank.to_string(), label.to_string(), money(b.price_minor, CURRENCY), score(b.total_score)]
        })
        .collect();
    story.detail(table(&["rank", "provider", "price", "score"], &rows));
    Ok(Round { work_id, evaluation })
}

/// Awards the best bid, retrying while work-publisher still waits for the ranking.
async fn award(out: Out, consumer: &Client, work: &WorkId, limit: Duration) -> Result<Contract> {
    wait_for(out, "the award", limit, || async {
        match consumer.contracts().award(work, &Award::Auto).await {
            Ok(contract) => Ok(Some(contract)),
            Err(error) if error.code() == Some("EVALUATION_PENDING") => Ok(None),
            Err(error) => Err(error.into()),
        }
    })
    .await
}

/// The closing table of the story.
struct Summary {
    consumer: (String, i64, i64),
    providers: Vec<(String, i64, i64)>,
    price: i64,
    payout: i64,
    platform_fee: i64,
    protocol_fee: i64,
    tier: String,
    ranking: Vec<(i64, String, i64, f64)>,
    leaderboard: Vec<(i64, String, f64, String, i32)>,
    steps: usize,
}

impl Summary {
    fn text(&self) -> String {
        let balances: Vec<Vec<String>> = std::iter::once(&self.consumer)
            .chain(&self.providers)
            .map(|(who, before, after)| {
                vec![who.clone(), money(*before, CURRENCY), money(*after, CURRENCY), delta(after - before, CURRENCY)]
            })
            .collect();
        let fees = vec![
            vec!["price".into(), money(self.price, CURRENCY)],
            vec!["provider payout".into(), money(self.payout, CURRENCY)],
            vec!["platform fee".into(), money(self.platform_fee, CURRENCY)],
            vec![format!("protocol fee ({})", self.tier), money(self.protocol_fee, CURRENCY)],
        ];
        let ranking: Vec<Vec<String>> = self
            .ranking
            .iter()
            .map(|(rank, who, price, total)| {
                vec![rank.to_string(), who.clone(), money(*price, CURRENCY), score(*total)]
            })
            .collect();
        let leaders: Vec<Vec<String>> = self
            .leaderboard
            .iter()
            .map(|(rank, who, value, tier, contracts)| {
                vec![rank.to_string(), who.clone(), score(*value), tier.clone(), contracts.to_string()]
            })
            .collect();
        format!(
            "\n=== AEX demo summary ===\n\nBalances\n{}\nSettled deal\n{}\nRanking (first work)\n{}\nReputation leaderboard (top 5)\n{}\nresult: PASS ({} steps checked)\n",
            table(&["party", "before", "after", "change"], &balances),
            table(&["item", "amount"], &fees),
            table(&["rank", "provider", "price", "score"], &ranking),
            table(&["rank", "provider", "score", "tier", "contracts"], &leaders),
            self.steps
        )
    }

    fn json(&self, contract: &Contract, failed: &Contract, work: &WorkId, failed_work: &WorkId) -> Value {
        let party = |(who, before, after): &(String, i64, i64)| {
            json!({ "party": who, "before_minor": before, "after_minor": after,
                    "before": usd(*before).to_decimal_string(), "after": usd(*after).to_decimal_string() })
        };
        json!({
            "result": "PASS",
            "steps": self.steps,
            "currency": CURRENCY,
            "work_id": work,
            "contract_id": contract.contract_id,
            "failed_work_id": failed_work,
            "failed_contract_id": failed.contract_id,
            "balances": std::iter::once(&self.consumer).chain(&self.providers).map(party).collect::<Vec<_>>(),
            "settlement": {
                "price_minor": self.price, "payout_minor": self.payout, "platform_fee_minor": self.platform_fee,
                "protocol_fee_minor": self.protocol_fee, "tier": self.tier,
                "price": usd(self.price).to_decimal_string(), "payout": usd(self.payout).to_decimal_string(),
                "platform_fee": usd(self.platform_fee).to_decimal_string(), "protocol_fee": usd(self.protocol_fee).to_decimal_string(),
            },
            "ranking": self.ranking.iter().map(|(rank, who, price, total)| json!({
                "rank": rank, "provider": who, "price_minor": price, "price": usd(*price).to_decimal_string(), "score": total,
            })).collect::<Vec<_>>(),
            "leaderboard": self.leaderboard.iter().map(|(rank, who, value, tier, contracts)| json!({
                "rank": rank, "provider": who, "score": value, "tier": tier, "contracts": contracts,
            })).collect::<Vec<_>>(),
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn a_csr_carries_the_key_and_proves_possession() {
        use p256::ecdsa::signature::Verifier;
        use x509_cert::der::{Decode, DecodePem, Encode};
        let key = generate_key().unwrap();
        let pem = csr_pem("Lingua Translator", &key).unwrap();
        assert!(pem.starts_with("-----BEGIN CERTIFICATE REQUEST-----"), "{pem}");
        let csr = x509_cert::request::CertReq::from_pem(pem.as_bytes()).unwrap();
        assert_eq!(csr.info.subject.to_string(), "CN=Lingua Translator");
        let public =
            p256::ecdsa::VerifyingKey::from_sec1_bytes(csr.info.public_key.subject_public_key.raw_bytes()).unwrap();
        assert_eq!(&public, key.verifying_key());
        let signature = p256::ecdsa::DerSignature::from_bytes(csr.signature.raw_bytes()).unwrap();
        public.verify(&csr.info.to_der().unwrap(), &signature).unwrap();
        let _ = x509_cert::request::CertReq::from_der(&csr.to_der().unwrap()).unwrap();
    }

    #[test]
    fn the_summary_shows_balances_fees_ranking_and_leaders_exactly() {
        let summary = Summary {
            consumer: ("Consumer".into(), 100_000, 93_600),
            providers: vec![("Babel".into(), 0, 5_856), ("Lingua".into(), 0, 0)],
            price: 6_400,
            payout: 5_856,
            platform_fee: 480,
            protocol_fee: 64,
            tier: "STARTER".into(),
            ranking: vec![(1, "Babel".into(), 6_400, 0.71234), (2, "Lingua".into(), 7_250, 0.7)],
            leaderboard: vec![(1, "Babel (prov_1)".into(), 0.61, "BRONZE".into(), 1)],
            steps: 17,
        };
        let text = summary.text();
        assert!(text.contains("Consumer  1000.00 USD  936.00 USD  -64.00"), "{text}");
        assert!(text.contains("Babel        0.00 USD   58.56 USD  +58.56"), "{text}");
        assert!(text.contains("protocol fee (STARTER)   0.64 USD"), "{text}");
        assert!(text.contains("   1  Babel     64.00 USD  0.712"), "{text}");
        assert!(text.contains("result: PASS (17 steps checked)"), "{text}");
    }
}
