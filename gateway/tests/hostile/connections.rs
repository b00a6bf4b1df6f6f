//! Many connections from one address: past the limit they are closed at once, while other
//! addresses are served.

use std::net::Ipv4Addr;
use std::time::Duration;

use crate::harness::gateway;

const HEALTH: &[u8] = b"GET /healthz HTTP/1.1\r\nhost: campus.test\r\n\r\n";

#[tokio::test]
async fn an_address_past_its_connection_limit_is_refused_while_others_are_served() {
    let gw = gateway(|c| {
        c.max_connections_per_ip = 8;
        c.header_timeout = Duration::from_secs(60);
    })
    .await;
    let crowd = Ipv4Addr::new(127, 0, 0, 2);
    let mut held = Vec::new();
    for _ in 0..8 {
        held.push(gw.connect_from(crowd).await);
    }
    // Accepted in the order they connected: the ninth is past the limit.
    let mut ninth = gw.connect_from(crowd).await;
    ninth.send(HEALTH).await;
    assert!(ninth.response().await.is_none(), "the ninth connection got an answer");

    let mut other = gw.connect_from(Ipv4Addr::new(127, 0, 0, 3)).await;
    other.send(HEALTH).await;
    assert_eq!(other.response().await.expect("served").status, 200);
    // The held connections themselves work.
    held[0].send(HEALTH).await;
    assert_eq!(held[0].response().await.expect("served").status, 200);

    // A closed connection gives its place back (once the gateway has seen it close).
    drop(held.pop());
    let mut served = false;
    for _ in 0..100 {
        let mut again = gw.connect_from(crowd).await;
        again.send(HEALTH).await;
        if again.response().await.is_some_and(|r| r.status == 200) {
            served = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(served, "the address never got its place back");
}
