//! The messaging service binary: configuration from the environment, then serve until SIGTERM.

use campus_messaging::{Application, Config};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    if campus_shared::config::print_help_if_asked(
        "campus-messaging",
        "conversations and messages, with live streams",
        Config::VARS,
    ) {
        return Ok(());
    }
    let _telemetry = campus_shared::telemetry::init("messaging");
    let app = Application::build(Config::from_env()?).await?;
    tracing::info!(addr = %app.local_addr(), "messaging service listening");
    app.run_until_stopped(campus_shared::server::shutdown_signal()).await
}
