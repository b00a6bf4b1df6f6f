//! The gateway binary: configuration from the environment, then serve until SIGTERM.

use campus_gateway::{Application, Config};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    if campus_shared::config::print_help_if_asked(
        "campus-gateway",
        "HTTP/JSON, gRPC-web and gRPC on one port",
        Config::VARS,
    ) {
        return Ok(());
    }
    let _telemetry = campus_shared::telemetry::init("gateway");
    let app = Application::build(Config::from_env()?).await?;
    tracing::info!(addr = %app.local_addr(), "gateway listening");
    app.run_until_stopped(campus_shared::server::shutdown_signal()).await
}
