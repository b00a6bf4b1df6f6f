//! Service TLS (DESIGN.md §11): the real account service serving TLS with a certificate from a
//! CA made in the test, the gateway verifying it, and mTLS refusing callers without a client
//! certificate.

use campus_gateway::Upstreams;
use campus_shared::tls::{ClientTls, ServerTls};
use campus_testkit::{TestDatabase, TestIdentity, backends};
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_client::HealthClient;

use crate::helpers::{closed_port, spawn_gateway_with_identity};
use crate::pki::Pki;
use crate::support::spawn_account;

/// The account service serving `tls`; its https:// URL names localhost, as its certificate does.
async fn spawn_tls_account(identity: &TestIdentity, db: &TestDatabase, tls: ServerTls) -> String {
    let addr = spawn_account(identity, db, std::future::pending(), |c| c.service.tls = Some(tls)).await;
    format!("https://localhost:{}", addr.port())
}

/// GET /v1/schools through a gateway trusting `tls`: the account service answers it.
async fn list_schools_through(identity: &TestIdentity, account: &str, tls: ClientTls) -> u16 {
    let down = format!("http://{}", closed_port().await);
    let upstreams =
        Upstreams { account: account.into(), board: down.clone(), messaging: down.clone(), timetable: down };
    let app = spawn_gateway_with_identity(identity.clone(), upstreams, |c| c.upstream_tls = tls).await;
    app.http.get(format!("{}/v1/schools", app.url)).send().await.unwrap().status().as_u16()
}

#[tokio::test]
async fn the_gateway_reaches_a_tls_service_and_verifies_its_certificate() {
    for backend in backends() {
        let identity = TestIdentity::new();
        let db = TestDatabase::new(backend).await;
        let pki = Pki::new("campus test CA");
        let account = spawn_tls_account(&identity, &db, pki.server_tls(false)).await;

        assert_eq!(
            list_schools_through(&identity, &account, pki.client_tls(false)).await,
            200,
            "{backend:?}"
        );

        // A gateway that trusts another CA does not talk to it.
        let stranger = Pki::new("another CA");
        assert_eq!(
            list_schools_through(&identity, &account, stranger.client_tls(false)).await,
            503,
            "{backend:?}"
        );
        // Nor does one that speaks plain HTTP/2 to a TLS port.
        let plain = account.replace("https://", "http://");
        assert_eq!(list_schools_through(&identity, &plain, ClientTls::default()).await, 503, "{backend:?}");
    }
}

#[tokio::test]
async fn under_mtls_a_service_refuses_a_caller_without_a_client_certificate() {
    for backend in backends() {
        let identity = TestIdentity::new();
        let db = TestDatabase::new(backend).await;
        let pki = Pki::new("campus test CA");
        let account = spawn_tls_account(&identity, &db, pki.server_tls(true)).await;

        assert_eq!(list_schools_through(&identity, &account, pki.client_tls(true)).await, 200, "{backend:?}");
        assert_eq!(
            list_schools_through(&identity, &account, pki.client_tls(false)).await,
            503,
            "{backend:?}"
        );
        // A client certificate from another CA is no better than none.
        let stranger = Pki::new("another CA");
        let mut foreign = pki.client_tls(false);
        foreign.identity = stranger.client_tls(true).identity;
        assert_eq!(list_schools_through(&identity, &account, foreign).await, 503, "{backend:?}");

        // Directly, with tonic: the health check answers only the caller with a certificate.
        let check = |tls: ClientTls| {
            let account = account.clone();
            async move {
                let channel = tls.endpoint(&account).unwrap().connect().await?;
                let reply =
                    HealthClient::new(channel).check(HealthCheckRequest { service: String::new() }).await?;
                Ok::<_, Box<dyn std::error::Error>>(reply.into_inner().status)
            }
        };
        assert_eq!(check(pki.client_tls(true)).await.unwrap(), 1, "SERVING");
        assert!(check(pki.client_tls(false)).await.is_err(), "{backend:?}: no client certificate, no answer");
    }
}
