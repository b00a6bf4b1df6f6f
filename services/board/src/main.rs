//! The board service binary: configuration from the environment, then serve until SIGTERM.

use campus_board::{Application, Config};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    if campus_shared::config::print_help_if_asked(
        "campus-board",
        "boards, posts, comments, likes and photos",
        Config::VARS,
    ) {
        return Ok(());
    }
    let _telemetry = campus_shared::telemetry::init("board");
    let app = Application::build(Config::from_env()?).await?;
    tracing::info!(addr = %app.local_addr(), "board service listening");
    app.run_until_stopped(campus_shared::server::shutdown_signal()).await
}
