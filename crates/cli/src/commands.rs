//! The operator and tenant commands: tenants, keys, certificates, journal, receipts.

use crate::cli::{CertCommand, Global, JournalCommand, KeyCommand, ReceiptCommand, TenantCommand};
use crate::output::{CliError, Out, table};
use crate::verify::{self, JournalFile};
use aex_client::identity::{NewApiKey, NewTenant, Tenant};
use aex_client::money::{ReceiptKeys, SignedReceipt};
use aex_client::{Client, PageParams};
use futures::TryStreamExt;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};

type Result<T> = std::result::Result<T, CliError>;

fn parse_id<T: std::str::FromStr>(kind: &str, text: &str) -> Result<T> {
    text.parse().map_err(|_| CliError::Usage(format!("{text:?} is not a {kind} id")))
}

fn tenant_json(tenant: &Tenant) -> Value {
    json!({
        "tenant_id": tenant.id, "name": tenant.name, "type": tenant.tenant_type, "status": tenant.status,
        "status_reason": tenant.status_reason, "operator": tenant.operator, "created_at": tenant.created_at.to_string(),
    })
}

pub async fn tenant(global: &Global, out: Out, command: TenantCommand) -> Result<()> {
    let operator = global.operator()?;
    match command {
        TenantCommand::Create { name, tenant_type, contact_email } => {
            let mut new = NewTenant::new(name, tenant_type.into());
            new.contact_email = contact_email;
            let created = operator.tenants().create(&new).await?;
            let key = &created.api_key;
            let secret = key.secret()?.expose();
            let mut value = tenant_json(&created.tenant);
            value["api_key"] = json!({ "id": key.id, "key": secret, "prefix": key.prefix, "scopes": key.scopes });
            out.result(
                || {
                    format!(
                        "created tenant {} ({:?}) {}\nAPI key {} ({}): {}\n(the key is shown once; store it now)",
                        created.tenant.id,
                        created.tenant.tenant_type,
                        created.tenant.name,
                        key.id,
                        key.scopes.join(","),
                        secret
                    )
                },
                &value,
            );
        }
        TenantCommand::Get { tenant_id } => {
            let tenant = operator.tenants().get(&parse_id("tenant", &tenant_id)?).await?;
            out.result(
                || format!("{} {} {:?} {}", tenant.id, tenant.name, tenant.tenant_type, tenant.status),
                &tenant_json(&tenant),
            );
        }
        TenantCommand::Suspend { tenant_id, reason } => {
            let tenant = operator.tenants().suspend(&parse_id("tenant", &tenant_id)?, reason.as_deref()).await?;
            out.result(|| format!("suspended {}: status {}", tenant.id, tenant.status), &tenant_json(&tenant));
        }
        TenantCommand::Activate { tenant_id, reason } => {
            let tenant = operator.tenants().activate(&parse_id("tenant", &tenant_id)?, reason.as_deref()).await?;
            out.result(|| format!("activated {}: status {}", tenant.id, tenant.status), &tenant_json(&tenant));
        }
    }
    Ok(())
}

pub async fn key(global: &Global, out: Out, command: KeyCommand) -> Result<()> {
    let client = global.operator_or_tenant()?;
    match command {
        KeyCommand::Create { tenant, name, scopes } => {
            let tenant = parse_id("tenant", &tenant)?;
            let key = client.api_keys(&tenant).create(&NewApiKey::new(name, scopes)).await?;
            let secret = key.secret()?.expose();
            let value = json!({ "id": key.id, "key": secret, "prefix": key.prefix, "scopes": key.scopes });
            out.result(
                || format!("created key {} ({}) for {tenant}: {}\n(shown once)", key.id, key.scopes.join(","), secret),
                &value,
            );
        }
        KeyCommand::List { tenant } => {
            let tenant = parse_id("tenant", &tenant)?;
            let keys: Vec<_> = client.api_keys(&tenant).list_all(PageParams::limit(100)).try_collect().await?;
            let value = json!(keys.iter().map(|k| json!({
                "id": k.id, "name": k.name, "prefix": k.prefix, "scopes": k.scopes, "status": k.status,
                "grace_until": k.grace_until.map(|t| t.to_string()), "revoked_at": k.revoked_at.map(|t| t.to_string()),
            })).collect::<Vec<_>>());
            let rows: Vec<Vec<String>> = keys
                .iter()
                .map(|k| vec![k.id.to_string(), k.name.clone(), k.prefix.clone(), k.status.clone(), k.scopes.join(",")])
                .collect();
            out.result(|| table(&["id", "name", "prefix", "status", "scopes"], &rows), &value);
        }
        KeyCommand::Rotate { tenant, key_id, grace_seconds } => {
            let tenant = parse_id("tenant", &tenant)?;
            let rotated = client.api_keys(&tenant).rotate(&parse_id("key", &key_id)?, grace_seconds).await?;
            let secret = rotated.key.secret()?.expose();
            let value = json!({
                "id": rotated.key.id, "key": secret, "previous_key_id": rotated.previous_key_id,
                "previous_key_valid_until": rotated.previous_key_valid_until.to_string(),
            });
            out.result(
                || {
                    format!(
                        "rotated {} -> {}: {}\nthe old key stays valid until {}",
                        rotated.previous_key_id, rotated.key.id, secret, rotated.previous_key_valid_until
                    )
                },
                &value,
            );
        }
        KeyCommand::Revoke { tenant, key_id } => {
            let tenant = parse_id("tenant", &tenant)?;
            let revoked = client.api_keys(&tenant).revoke(&parse_id("key", &key_id)?).await?;
            out.result(|| format!("revoked {}", revoked.id), &json!({ "revoked": revoked.revoked, "id": revoked.id }));
        }
    }
    Ok(())
}

pub async fn cert(global: &Global, out: Out, command: CertCommand) -> Result<()> {
    match command {
        CertCommand::Approve { request_id } => {
            let cert =
                global.operator()?.certificates().approve(&parse_id("certificate request", &request_id)?).await?;
            let value = json!({
                "certificate_id": cert.certificate_id, "provider_id": cert.provider_id, "status": cert.status,
                "serial": cert.serial, "fingerprint": cert.fingerprint, "not_after": cert.not_after.to_string(),
            });
            out.result(
                || {
                    format!(
                        "approved {request_id}: certificate {} ({}) for {}",
                        cert.certificate_id, cert.status, cert.provider_id
                    )
                },
                &value,
            );
        }
        CertCommand::Reject { request_id, reason } => {
            let operator = global.operator()?;
            let status = operator
                .certificates()
                .reject(&parse_id("certificate request", &request_id)?, reason.as_deref())
                .await?;
            out.result(
                || format!("rejected {}: {}", status.request_id, status.status),
                &json!({ "request_id": status.request_id, "status": status.status }),
            );
        }
        CertCommand::Get { certificate_id } => {
            let client = global.operator_or_tenant()?;
            let cert = client.certificates().get(&parse_id("certificate", &certificate_id)?).await?;
            let value = json!({
                "certificate_id": cert.certificate_id, "provider_id": cert.provider_id, "status": cert.status,
                "serial": cert.serial, "fingerprint": cert.fingerprint, "x509_pem": cert.x509_pem,
                "not_before": cert.not_before.to_string(), "not_after": cert.not_after.to_string(),
            });
            out.result(
                || {
                    format!(
                        "{} {} for {} valid {}..{}\n{}",
                        cert.certificate_id,
                        cert.status,
                        cert.provider_id,
                        cert.not_before,
                        cert.not_after,
                        cert.x509_pem
                    )
                },
                &value,
            );
        }
        CertCommand::Verify { certificate_id } => {
            let client = global.operator_or_tenant()?;
            let verdict = client.certificates().verify(&certificate_id).await?;
            let value = json!({ "valid": verdict.valid, "status": verdict.status, "reason": verdict.reason, "errors": verdict.errors });
            out.result(
                || {
                    format!(
                        "{certificate_id}: {} ({})",
                        if verdict.valid { "valid" } else { "NOT valid" },
                        verdict.reason.clone().or(verdict.status.clone()).unwrap_or_default()
                    )
                },
                &value,
            );
            if !verdict.valid {
                return Err(CliError::check(format!("certificate {certificate_id} is not valid")));
            }
        }
    }
    Ok(())
}

/// Every link of the journal, page after page, with progress.
pub async fn export_journal(operator: &Client, out: Out, page_size: u32) -> Result<JournalFile> {
    let first = operator.audit().journal(Some(0), Some(1)).await?;
    let head = first.head_seq;
    let mut links = Vec::new();
    let mut stream = operator.audit().journal_all(Some(page_size));
    let mut reported = 0;
    while let Some(link) = stream.try_next().await? {
        links.push(link);
        if links.len() - reported >= 10 * page_size as usize {
            reported = links.len();
            eprintln!("  exported {} of {head} links", links.len());
        }
    }
    let _ = out;
    Ok(JournalFile::new(first, links))
}

fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T> {
    let text = std::fs::read_to_string(path).map_err(|e| CliError::file(path, e))?;
    serde_json::from_str(&text).map_err(|e| CliError::file(path, e))
}

fn write_json(path: &Path, value: &impl serde::Serialize) -> Result<()> {
    let text = serde_json::to_string_pretty(value).map_err(|e| CliError::file(path, e))?;
    std::fs::write(path, text + "\n").map_err(|e| CliError::file(path, e))
}

async fn receipt_keys(global: &Global, keys: Option<&PathBuf>) -> Result<ReceiptKeys> {
    match keys {
        Some(path) => read_json(path),
        None => Ok(global.anonymous()?.settlements().receipt_keys().await?),
    }
}

fn keys_json(keys: &ReceiptKeys) -> Value {
    json!({
        "issuer": keys.issuer, "active_version": keys.active_version,
        "keys": keys.keys.iter().map(|k| json!({
            "version": k.version, "status": k.status, "algorithm": k.algorithm, "public_key_pem": k.public_key_pem,
        })).collect::<Vec<_>>(),
    })
}

pub async fn journal(global: &Global, out: Out, command: JournalCommand) -> Result<()> {
    match command {
        JournalCommand::Export { out: path, page_size } => {
            let operator = global.operator()?;
            let file = export_journal(&operator, out, page_size.clamp(1, 10_000)).await?;
            match path {
                Some(path) => {
                    write_json(&path, &file)?;
                    let summary = json!({ "file": path, "links": file.links.len(), "head_seq": file.head_seq, "head_hash": file.head_hash });
                    out.result(
                        || {
                            format!(
                                "exported {} links (head {} {}) to {}",
                                file.links.len(),
                                file.head_seq,
                                file.head_hash,
                                path.display()
                            )
                        },
                        &summary,
                    );
                }
                None => println!("{}", serde_json::to_string_pretty(&file).unwrap_or_default()),
            }
        }
        JournalCommand::Verify { file: Some(path), keys } => {
            let file: JournalFile = read_json(&path)?;
            let keys = if file.signed_head.is_some() { Some(receipt_keys(global, keys.as_ref()).await?) } else { None };
            let report = verify::verify_journal(&file, keys.as_ref());
            out.result(|| journal_report_text(&report), &json!(report));
            if !report.valid {
                return Err(CliError::check("the journal chain does not verify"));
            }
        }
        JournalCommand::Verify { file: None, .. } => {
            let verification = global.operator()?.audit().verify_journal().await?;
            let value = json!({
                "valid": verification.valid, "entries_checked": verification.entries_checked, "head_seq": verification.head_seq,
                "signed_head_seq": verification.signed_head_seq,
                "first_break": verification.first_break.as_ref().map(|b| json!({"seq": b.seq, "reason": b.reason})),
                "accounts_checked": verification.accounts_checked, "balance_mismatches": verification.balance_mismatches,
            });
            out.result(
                || {
                    let verdict = if verification.valid { "ok" } else { "BROKEN" };
                    let brk = verification
                        .first_break
                        .as_ref()
                        .map(|b| format!(", first break at {}: {}", b.seq, b.reason))
                        .unwrap_or_default();
                    format!(
                        "server verification: {verdict}: {} entries to head {}, {} accounts{brk}",
                        verification.entries_checked, verification.head_seq, verification.accounts_checked
                    )
                },
                &value,
            );
            if !verification.valid {
                return Err(CliError::check("the server reports a broken journal"));
            }
        }
    }
    Ok(())
}

pub fn journal_report_text(report: &verify::ChainReport) -> String {
    let verdict = if report.valid { "ok" } else { "BROKEN" };
    let mut text = format!(
        "offline verification: {verdict}: {} entries recomputed to seq {} ({})",
        report.entries_checked, report.verified_seq, report.verified_hash
    );
    if let Some(brk) = &report.first_break {
        text.push_str(&format!("\nfirst break at seq {}: {}", brk.seq, brk.reason));
    }
    match (report.signed_head_valid, report.signed_head_seq) {
        (Some(true), Some(seq)) => text.push_str(&format!("\nsigned head at seq {seq}: signature and hash ok")),
        (Some(false), seq) => text.push_str(&format!(
            "\nsigned head at seq {}: {}",
            seq.unwrap_or_default(),
            report.signed_head_problem.clone().unwrap_or_default()
        )),
        _ => text.push_str("\nno signed head yet"),
    }
    text
}

pub async fn receipt(global: &Global, out: Out, command: ReceiptCommand) -> Result<()> {
    match command {
        ReceiptCommand::Get { contract_id, out: path } => {
            let receipt = global.operator_or_tenant()?.settlements().receipt(&contract_id).await?;
            match path {
                Some(path) => {
                    write_json(&path, &receipt)?;
                    out.result(
                        || format!("wrote the receipt of {contract_id} to {}", path.display()),
                        &json!({ "file": path }),
                    );
                }
                None => println!("{}", serde_json::to_string_pretty(&receipt).unwrap_or_default()),
            }
        }
        ReceiptCommand::Verify { file, keys } => {
            let receipt: SignedReceipt = read_json(&file)?;
            let keys = receipt_keys(global, keys.as_ref()).await?;
            let report = verify::verify_receipt(&receipt, &keys);
            out.result(
                || match &report.reason {
                    None => format!(
                        "receipt of {} verifies offline with published key version {}",
                        report.contract_id.clone().unwrap_or_default(),
                        report.key_version
                    ),
                    Some(reason) => format!("receipt does NOT verify: {reason}"),
                },
                &json!(report),
            );
            if !report.valid {
                return Err(CliError::check("the receipt does not verify"));
            }
        }
        ReceiptCommand::Keys | ReceiptCommand::RotateKey => {
            let keys = match command {
                ReceiptCommand::RotateKey => global.operator()?.settlements().rotate_receipt_key().await?,
                _ => receipt_keys(global, None).await?,
            };
            let rows: Vec<Vec<String>> =
                keys.keys.iter().map(|k| vec![k.version.to_string(), k.status.clone(), k.algorithm.clone()]).collect();
            out.result(
                || {
                    format!(
                        "issuer {} (active version {})\n{}",
                        keys.issuer,
                        keys.active_version,
                        table(&["version", "status", "algorithm"], &rows)
                    )
                },
                &keys_json(&keys),
            );
        }
    }
    Ok(())
}
