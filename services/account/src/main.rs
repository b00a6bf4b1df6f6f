//! The account service binary: configuration from the environment, then serve until SIGTERM.

use campus_account::{Application, Config};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    if campus_shared::config::print_help_if_asked(
        "campus-account",
        "schools, users, sessions and friends",
        Config::VARS,
    ) {
        return Ok(());
    }
    let _telemetry = campus_shared::telemetry::init("account");
    let app = Application::build(Config::from_env()?).await?;
    tracing::info!(addr = %app.local_addr(), "account service listening");
    app.run_until_stopped(campus_shared::server::shutdown_signal()).await
}
