//! `campus-healthcheck <addr> [service]`: exits 0 when the gRPC server at `addr` reports
//! SERVING for `service` (default: the whole server). Container health checks use it.
//! `https://host:port` checks over TLS, trusting `CAMPUS_TLS_CA_FILE`.

use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_client::HealthClient;

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::process::ExitCode {
    let mut args = std::env::args().skip(1);
    let Some(addr) = args.next() else {
        eprintln!("usage: campus-healthcheck <host:port|http://host:port> [service]");
        return std::process::ExitCode::from(2);
    };
    let service = args.next().unwrap_or_default();
    let url = if addr.contains("://") { addr } else { format!("http://{addr}") };
    match check(&url, service).await {
        Ok(true) => std::process::ExitCode::SUCCESS,
        Ok(false) => {
            eprintln!("{url}: not serving");
            std::process::ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("{url}: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn check(url: &str, service: String) -> Result<bool, Box<dyn std::error::Error>> {
    // https:// is verified against CAMPUS_TLS_CA_FILE (with the client certificate of
    // CAMPUS_TLS_CLIENT_CERT_FILE when the server requires one).
    let channel = campus_shared::tls::ClientTls::from_env()?
        .endpoint(url)?
        .connect_timeout(std::time::Duration::from_secs(2))
        .timeout(std::time::Duration::from_secs(2))
        .connect()
        .await?;
    let response = HealthClient::new(channel).check(HealthCheckRequest { service }).await?;
    Ok(response.into_inner().status == tonic_health::pb::health_check_response::ServingStatus::Serving as i32)
}
