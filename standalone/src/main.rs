//! `cargo run --release`: the whole campus system in one process on SQLite.

use campus::{System, SystemConfig};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    if campus_shared::config::print_help_if_asked(
        "campus",
        "the four services and the gateway in one process, on SQLite under CAMPUS_DATA_DIR",
        &[
            campus_shared::config::EnvVar {
                name: "GATEWAY_LISTEN_ADDR",
                default: "127.0.0.1:8080",
                help: "the public port",
            },
            campus_shared::config::EnvVar {
                name: "CAMPUS_BOOTSTRAP_ADMIN",
                default: "",
                help: "loginId:password of an admin to create",
            },
            campus_shared::config::EnvVar {
                name: "CAMPUS_SEED_DEMO",
                default: "true",
                help: "seed demo schools, boards and lectures into a new database",
            },
            campus_shared::config::EnvVar {
                name: "CAMPUS_SEED_ACTIVITY",
                default: "true",
                help: "with the demo data, also demo students and their week of posts",
            },
        ],
    ) {
        return Ok(());
    }
    let _telemetry = campus_shared::telemetry::init("campus");
    let system = System::start(SystemConfig::from_env()?).await?;
    tracing::info!(
        gateway = %format!("http://{}", system.gateway_addr),
        account = %system.account_addr,
        board = %system.board_addr,
        messaging = %system.messaging_addr,
        timetable = %system.timetable_addr,
        "campus is up; Ctrl-C stops it"
    );
    system.run_until(campus_shared::server::shutdown_signal()).await
}
