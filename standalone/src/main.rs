//! `cargo run --release`: the whole campus system in one process on SQLite.

use campus::{System, SystemConfig};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let about = "the four services and the gateway in one process, on SQLite under CAMPUS_DATA_DIR";
    if campus_shared::config::print_help_if_asked("campus", about, &campus::documented_vars()) {
        return Ok(());
    }
    let _telemetry = campus_shared::telemetry::init("campus");
    let config = SystemConfig::from_env()?;
    let scheme = if config.gateway.tls.is_some() { "https" } else { "http" };
    let system = System::start(config).await?;
    tracing::info!(
        gateway = %format!("{scheme}://{}", system.gateway_addr),
        account = %system.account_addr,
        board = %system.board_addr,
        messaging = %system.messaging_addr,
        timetable = %system.timetable_addr,
        "campus is up; Ctrl-C stops it"
    );
    system.run_until(campus_shared::server::shutdown_signal()).await
}
