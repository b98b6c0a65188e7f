//! A lost answer: the deposit reaches the gateway and takes effect, the connection drops
//! before the answer arrives, and the client's retry carries the same `Idempotency-Key`, so
//! the deposit happens once. Between the client and the real gateway sits a TCP relay that
//! loses the first answer; nothing of AEX is mocked.

use crate::stack;
use aex_client::Client;
use aex_client::identity::TenantType;
use aex_client::money::Funds;
use aex_types::{Currency, Money};
use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Relays connections to `upstream`; on the first one the answer is dropped once it starts.
/// Returns the relay's URL and the `Idempotency-Key` of every relayed request.
fn relay_losing_the_first_answer(upstream: SocketAddr) -> (String, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let keys = Arc::new(Mutex::new(Vec::new()));
    let seen = keys.clone();
    std::thread::spawn(move || {
        for (n, inbound) in listener.incoming().enumerate() {
            let Ok(inbound) = inbound else { continue };
            let seen = seen.clone();
            std::thread::spawn(move || relay(n == 0, inbound, upstream, &seen));
        }
    });
    (url, keys)
}

fn relay(lose_answer: bool, inbound: TcpStream, upstream: SocketAddr, seen: &Mutex<Vec<String>>) {
    let upstream = TcpStream::connect(upstream).unwrap();
    let (mut from_client, mut to_upstream) = (inbound.try_clone().unwrap(), upstream.try_clone().unwrap());
    let mut first = vec![0_u8; 64 * 1024];
    let read = from_client.read(&mut first).unwrap();
    let head = String::from_utf8_lossy(&first[..read]).to_ascii_lowercase();
    if let Some(line) = head.lines().find(|l| l.starts_with("idempotency-key:")) {
        seen.lock().unwrap().push(line["idempotency-key:".len()..].trim().to_string());
    }
    to_upstream.write_all(&first[..read]).unwrap();
    std::thread::spawn(move || {
        let _ = std::io::copy(&mut from_client, &mut to_upstream);
    });
    let (mut from_upstream, mut to_client) = (upstream, inbound);
    if lose_answer {
        // Wait until the gateway answers (the deposit is committed by then), then hang up.
        let mut byte = [0_u8; 1];
        let _ = from_upstream.read(&mut byte);
        let _ = to_client.shutdown(Shutdown::Both);
        return;
    }
    let _ = std::io::copy(&mut from_upstream, &mut to_client);
}

#[tokio::test]
async fn a_retry_after_a_lost_answer_reuses_the_key_and_deposits_once() {
    let stack = stack();
    let (created, _) = stack.tenant(TenantType::Requestor).await;
    let (url, keys) = relay_losing_the_first_answer(stack.gateway.addr);
    let client = Client::builder(&url)
        .api_key(created.api_key.secret().unwrap().expose())
        .timeout(Duration::from_secs(20))
        .max_retries(3)
        .build()
        .unwrap();

    let deposit = client.deposits().create(&Funds::new(Money::from_minor(4_200, Currency::USD))).await.unwrap();
    assert_eq!(deposit.amount_minor, 4_200);

    let keys = keys.lock().unwrap().clone();
    assert!(keys.len() >= 2, "the first answer was lost and the call retried: {keys:?}");
    assert!(keys.iter().all(|k| k == &keys[0]), "every attempt carries the same key: {keys:?}");
    assert!(uuid_like(&keys[0]), "a generated key is a UUID: {}", keys[0]);

    let balance = stack.client(created.api_key.secret().unwrap().expose()).balance().get(None).await.unwrap();
    assert_eq!(balance.balance_minor, 4_200, "deposited once");
}

fn uuid_like(key: &str) -> bool {
    key.len() == 36 && key.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-')
}
