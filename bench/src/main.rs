//! `campus-bench all`: the whole system against its references, with memory (issue 9).
//!
//! Seeds per-service PostgreSQL databases once (10k users, 100 boards, 1M posts, ~5M
//! comments, 5k lectures; reused while the scale matches), starts the four services and the
//! gateway as separate release processes (plus a board service and gateway on SQLite, and a
//! tonic hello-world server), pins the load generator to one core and the servers to the
//! other, runs every workload (warm-up, then 3 repetitions, median reported, 64 in flight)
//! and writes target/bench/report.md and target/bench/latency.svg.
//!
//! ```text
//! cargo run --release -p campus-bench -- all [--scale 0.01] [--secs 5] [--warmup 2] [--reps 3]
//!     [--only W1,W2] [--no-sqlite] [--no-build] [--loadgen-cpu 0] [--server-cpus 0-1]
//! ```
//! W1, W2 and W6 then run again open-loop (`open_loop.rs`) at half of their closed-loop
//! throughput, for latency without coordinated omission.
//! `--base-bin-dir DIR` names the binaries to compare with in the same run (e546691's: before
//! the search index and the list previews); W1, W2, W6 and W3 run against them too, as
//! "W1 base" and so on, and "R2 list base" runs the page SQL from before the previews.
//! `campus-bench feed [--rate 500] [--secs 20]` measures the event feed's lag instead (see
//! `feed.rs`).
//! `--only attack` runs the hostile-client workload of DESIGN §10 (W2 alone, then W2 while
//! 2,216 hostile connections work the gateway); it runs last when everything runs.
//! `CAMPUS_BENCH_PG_URL` names the PostgreSQL server (default
//! postgres://postgres@127.0.0.1:5432/postgres).

mod attack;
mod feed;
mod layout;
mod measure;
mod notify;
mod open_loop;
mod plan;
mod procs;
mod reference;
mod report;
mod seed;
mod system;
mod workloads;

use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use campus_testkit::bench::{pg_create_database, pg_drop_database};

use crate::layout::Layout;
use crate::measure::{Driver, Measured, Timing, measure};
use crate::plan::{Planned, Prepared, Section};
use crate::report::Memory;
use crate::system::{Databases, System};
use crate::workloads::Tokens;

const DEFAULT_PG_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";
const PG_DATABASES: [&str; 4] =
    ["campus_bench_account", "campus_bench_board", "campus_bench_messaging", "campus_bench_timetable"];
/// Every seeded user's password.
const PASSWORD: &str = "bench password 1";

const USAGE: &str = "usage: campus-bench feed [--rate N] [--secs N] [--warmup N]\n       campus-bench all [--scale F] [--secs N] [--warmup N] [--reps N] [--only ID,ID] \
                     [--no-sqlite] [--no-build] [--bin-dir DIR] [--base-bin-dir DIR] [--loadgen-cpu CPUS] [--server-cpus CPUS]\n\
                     ids: R1, R2 list, R2 list page, R2 post, R2 comment, R2 lecture, W1, W1 gw, W2, W2 TLS, W3, W4, W5, W6, \
                     W1 SQLite, W3 SQLite, W2 TLS (only when named), W7 common, W7 rare, W7 absent, W7 latin (each also with SQLite), \
                     attack (spaces may be written as '-')";

/// The command line.
#[derive(Debug, Clone)]
struct Options {
    scale: f64,
    timing: Timing,
    only: Option<Vec<String>>,
    sqlite: bool,
    build: bool,
    /// Binaries from here instead of target/release (development: `--bin-dir target/debug`).
    bin_dir: Option<std::path::PathBuf>,
    /// Earlier binaries to compare with (e546691: before the search index and the list
    /// previews): W1, W2, W6 and W3 (and the SQLite forms of W1 and W3) run against them too,
    /// on a copy of the data set without the index, as "W1 base" and so on.
    base_bin_dir: Option<std::path::PathBuf>,
    loadgen_cpu: String,
    server_cpus: String,
    pg_url: String,
}

enum Command {
    All(Options),
    Feed(feed::FeedOptions),
    Hello(std::net::SocketAddr),
}

/// The machine's online CPUs as taskset spells them ("0-1").
fn online_cpus() -> String {
    std::fs::read_to_string("/sys/devices/system/cpu/online")
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|_| "0".into())
}

fn parse(args: &[String]) -> anyhow::Result<Command> {
    match args.first().map(String::as_str) {
        Some("hello-server") => {
            let addr = args.get(1).context("hello-server needs an address")?.parse()?;
            return Ok(Command::Hello(addr));
        }
        Some("feed") => {
            let pg_url =
                campus_shared::config::var("CAMPUS_BENCH_PG_URL").unwrap_or_else(|| DEFAULT_PG_URL.into());
            return Ok(Command::Feed(feed::FeedOptions::parse(&args[1..], pg_url)?));
        }
        Some("all") => {}
        _ => bail!("{USAGE}"),
    }
    let mut o = Options {
        scale: 1.0,
        timing: Timing { warmup: Duration::from_secs(2), duration: Duration::from_secs(5), repetitions: 3 },
        only: None,
        sqlite: true,
        build: true,
        bin_dir: None,
        base_bin_dir: None,
        loadgen_cpu: "0".into(),
        // The servers get the whole machine, as PostgreSQL does; only the load is confined.
        server_cpus: online_cpus(),
        pg_url: campus_shared::config::var("CAMPUS_BENCH_PG_URL").unwrap_or_else(|| DEFAULT_PG_URL.into()),
    };
    let mut it = args[1..].iter();
    while let Some(flag) = it.next() {
        let mut value = || it.next().with_context(|| format!("{flag} needs a value\n{USAGE}"));
        match flag.as_str() {
            "--scale" => o.scale = value()?.parse()?,
            "--secs" => o.timing.duration = Duration::from_secs_f64(value()?.parse()?),
            "--warmup" => o.timing.warmup = Duration::from_secs_f64(value()?.parse()?),
            "--reps" => o.timing.repetitions = value()?.parse()?,
            "--only" => {
                o.only =
                    Some(value()?.split(',').map(|s| s.trim().replace('-', " ").to_lowercase()).collect())
            }
            "--no-sqlite" => o.sqlite = false,
            "--no-build" => o.build = false,
            "--bin-dir" => o.bin_dir = Some(value()?.into()),
            "--base-bin-dir" => o.base_bin_dir = Some(value()?.into()),
            "--loadgen-cpu" => o.loadgen_cpu = value()?.clone(),
            "--server-cpus" => o.server_cpus = value()?.clone(),
            _ => bail!("unknown option {flag}\n{USAGE}"),
        }
    }
    if !(o.scale > 0.0 && o.scale <= 10.0) || o.timing.repetitions == 0 {
        bail!("--scale must be in (0, 10] and --reps at least 1");
    }
    Ok(Command::All(o))
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let command = match parse(&args) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    let result = match command {
        Command::Hello(addr) => tokio::runtime::Runtime::new()
            .map_err(anyhow::Error::from)
            .and_then(|rt| rt.block_on(system::hello_server(addr))),
        Command::Feed(options) => tokio::runtime::Runtime::new()
            .map_err(anyhow::Error::from)
            .and_then(|rt| rt.block_on(feed::run(options, Path::new("target/bench")))),
        Command::All(options) => procs::pin_self(&options.loadgen_cpu).and_then(|()| {
            // Pinned before the runtime exists, so its threads (and pgbench) inherit the core.
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(anyhow::Error::from)
                .and_then(|rt| rt.block_on(all(options)))
        }),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("campus-bench: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// The data sets in use, seeding or reusing each.
async fn prepare_data(o: &Options, out: &Path) -> anyhow::Result<(Databases, Layout, bool, bool)> {
    let now_ms = campus_shared::db::now_micros() / 1000;
    let wanted = Layout::new(o.scale, now_ms);
    let mut urls = Vec::new();
    for name in PG_DATABASES {
        urls.push(
            pg_create_database(&o.pg_url, name, false)
                .await
                .with_context(|| format!("create {name} on {}", o.pg_url))?,
        );
    }
    let markers = [seed::marker(&urls[0]).await, seed::marker(&urls[1]).await, seed::marker(&urls[3]).await];
    let reuse = match &markers {
        [Some(a), Some(b), Some(c)] if a == b && b == c && a.0 == wanted.fingerprint() => Some(a.1),
        _ => None,
    };
    let (layout, seed_pg) = match reuse {
        Some(anchor_ms) => (Layout { anchor_ms, ..wanted }, false),
        None => {
            eprintln!("PostgreSQL: seeding a new data set ({})", wanted.fingerprint());
            urls.clear();
            for name in PG_DATABASES {
                let _ = pg_drop_database(&o.pg_url, name).await;
                urls.push(pg_create_database(&o.pg_url, name, true).await?);
            }
            (wanted, true)
        }
    };
    let mut seed_sqlite = false;
    let board_sqlite = if o.sqlite {
        let dir = out.join("sqlite");
        std::fs::create_dir_all(&dir)?;
        let file = dir.join("board.db");
        let url = format!("sqlite://{}?mode=rwc", file.display());
        let same =
            file.exists() && seed::marker(&url).await == Some((layout.fingerprint(), layout.anchor_ms));
        if !same {
            for suffix in ["", "-wal", "-shm"] {
                let _ = std::fs::remove_file(dir.join(format!("board.db{suffix}")));
            }
            seed_sqlite = true;
        }
        Some(url)
    } else {
        None
    };
    let board_base = match &o.base_bin_dir {
        Some(_) if seed_pg || seed_sqlite => {
            eprintln!("the data set is seeded in this run: the binaries before the index run on the next");
            None
        }
        Some(_) => {
            // Copied while nothing is connected, put back as seeded first.
            let t = Instant::now();
            seed::restore_board(&urls[1], &layout).await?;
            let pg = seed::copy_without_search(&o.pg_url, &urls[1], "campus_bench_board_base").await?;
            let sqlite = match &board_sqlite {
                Some(url) => {
                    seed::restore_board(url, &layout).await?;
                    Some(seed::copy_without_search(&o.pg_url, url, "board-base").await?)
                }
                None => None,
            };
            eprintln!(
                "copied the board data set without the search index in {:.0}s",
                t.elapsed().as_secs_f64()
            );
            Some((pg, sqlite))
        }
        None => None,
    };
    let dbs = Databases {
        account: urls[0].clone(),
        board: urls[1].clone(),
        messaging: urls[2].clone(),
        timetable: urls[3].clone(),
        board_sqlite,
        board_base,
    };
    Ok((dbs, layout, seed_pg, seed_sqlite))
}

/// Whether `id` runs; "W1 base", "W4 notify" and the like run with the workload they are
/// compared with.
fn wanted(o: &Options, id: &str) -> bool {
    let id = id.strip_suffix(" base").or_else(|| id.strip_suffix(" notify")).unwrap_or(id).to_lowercase();
    o.only.as_ref().is_none_or(|only| only.contains(&id))
}

/// The 1-minute load average: other work on the machine shows here.
fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|l| l.split_whitespace().next().map(str::to_string))
        .unwrap_or_else(|| "?".into())
}

async fn all(o: Options) -> anyhow::Result<()> {
    let started = Instant::now();
    let load_before = load_average();
    let release = procs::ensure_binaries(!o.build, o.bin_dir.as_deref())?;
    let out = system::out_dir()?;
    let run_dir = out.join("run");
    let _ = std::fs::remove_dir_all(&run_dir);
    std::fs::create_dir_all(&run_dir)?;

    let (dbs, layout, seed_pg, seed_sqlite) = prepare_data(&o, &out).await?;
    // W2 TLS needs a gateway that serves HTTPS, which binaries before it (--bin-dir) lack: it
    // runs only when --only names it.
    let tls = o.only.as_ref().is_some_and(|only| only.iter().any(|w| w == "w2 tls"));
    let base = match &o.base_bin_dir {
        Some(dir) if dbs.board_base.is_some() => Some(procs::ensure_binaries(true, Some(dir))?),
        _ => None,
    };
    let mut system = System::start(&release, base.as_deref(), &dbs, &o.server_cpus, &run_dir, tls).await?;

    if seed_pg {
        let t = Instant::now();
        let hash =
            campus_account::reference::password_hash(PASSWORD).await.map_err(|e| anyhow::anyhow!("{e}"))?;
        seed::seed_account(&dbs.account, &layout, &hash).await.context("seed the account database")?;
        seed::seed_board(&dbs.board, &layout).await.context("seed the board database")?;
        let tokens = Tokens::mint(&system.issuer, &layout)?;
        workloads::import_lectures(system.addr("timetable"), &layout, &tokens).await?;
        for url in [&dbs.account, &dbs.board, &dbs.timetable] {
            seed::write_marker(url, &layout).await?;
        }
        eprintln!("PostgreSQL seeded in {:.0}s", t.elapsed().as_secs_f64());
    }
    if let (true, Some(url)) = (seed_sqlite, &dbs.board_sqlite) {
        let t = Instant::now();
        eprintln!("SQLite: seeding the board database");
        seed::seed_board(url, &layout).await.context("seed the SQLite board database")?;
        seed::write_marker(url, &layout).await?;
        eprintln!("SQLite seeded in {:.0}s", t.elapsed().as_secs_f64());
    }
    seed::restore_board(&dbs.board, &layout).await?;
    seed::restore_timetable(&dbs.timetable).await?;
    if let Some(url) = &dbs.board_sqlite {
        seed::restore_board(url, &layout).await?;
    }
    let counts = seed::board_counts(&dbs.board).await?;
    // Minted after seeding, which can outlast an access token's 15 minutes.
    let tokens = Tokens::mint(&system.issuer, &layout)?;
    let fixture = Arc::new(workloads::timetables(system.addr("timetable"), &tokens).await?);
    system.check_alive()?;

    // Idle: started, migrated, seeded, nothing asked of them for a moment.
    tokio::time::sleep(Duration::from_secs(2)).await;
    for p in system.procs.iter_mut() {
        p.idle_kb = p.memory().0;
    }

    let gw = system.addr("gateway");
    let board = system.addr("board");
    let mut plan: Vec<Planned> = Vec::new();
    let l = layout;
    // Access tokens live 15 minutes, so each workload gets its own, minted as it starts.
    let t = workloads::TokenSource { issuer: system.issuer.clone(), layout };
    let hello = system.addr("hello (R1)");
    plan.push(Planned::driven("R1", "tonic hello-world: grpc.health.v1 Check", move || {
        Driver::Calls(workloads::hello(hello))
    }));
    let url = dbs.board.clone();
    plan.push(Planned::driven("R2 list", "pgbench: ListPosts SQL, first page", move || Driver::Pgbench {
        url: url.clone(),
        script: reference::list_posts(&l),
    }));
    let url = dbs.board.clone();
    plan.push(Planned::driven(
        "R2 list page",
        "pgbench: ListPosts page SQL (pages after the first)",
        move || Driver::Pgbench { url: url.clone(), script: reference::list_posts_page(&l) },
    ));
    let url = dbs.board.clone();
    plan.push(Planned::driven("R2 list base", "pgbench: ListPosts SQL from before previews", move || {
        Driver::Pgbench { url: url.clone(), script: reference::list_posts_before_previews(&l) }
    }));
    let tk = t.clone();
    plan.push(Planned::driven("W1", "ListPosts, gRPC direct", move || {
        Driver::Calls(workloads::list_posts_grpc(board, l, tk.fresh()))
    }));
    if dbs.board_base.is_some() {
        let board_base = system.addr("board (base)");
        let tk = t.clone();
        plan.push(Planned::driven("W1 base", "ListPosts, gRPC direct, base binaries", move || {
            Driver::Calls(workloads::list_posts_grpc(board_base, l, tk.fresh()))
        }));
    }
    let tk = t.clone();
    plan.push(Planned::driven("W1 gw", "ListPosts, gRPC through the gateway", move || {
        Driver::Calls(workloads::list_posts_grpc(gw, l, tk.fresh()))
    }));
    let tk = t.clone();
    plan.push(Planned::driven("W2", "ListPosts, HTTP/JSON through the gateway", move || {
        Driver::Calls(workloads::list_posts_json(gw, l, tk.fresh()))
    }));
    if dbs.board_base.is_some() {
        let gw_base = system.addr("gateway (base)");
        let tk = t.clone();
        plan.push(Planned::driven(
            "W2 base",
            "ListPosts, HTTP/JSON through the gateway, base binaries",
            move || Driver::Calls(workloads::list_posts_json(gw_base, l, tk.fresh())),
        ));
    }
    if let Some(cert) = system.tls_cert.clone() {
        let gw_tls = system.addr("gateway (TLS)");
        let tk = t.clone();
        plan.push(Planned::driven(
            "W2 TLS",
            "ListPosts, HTTP/JSON over HTTPS through the gateway",
            move || Driver::Calls(workloads::list_posts_json_tls(gw_tls, &cert, l, tk.fresh())),
        ));
    }
    let tk = t.clone();
    plan.push(Planned::driven("W6", "ListPosts, gRPC-web through the gateway", move || {
        Driver::Calls(workloads::list_posts_grpc_web(gw, l, tk.fresh()))
    }));
    if dbs.board_base.is_some() {
        let gw_base = system.addr("gateway (base)");
        let tk = t.clone();
        plan.push(Planned::driven(
            "W6 base",
            "ListPosts, gRPC-web through the gateway, base binaries",
            move || Driver::Calls(workloads::list_posts_grpc_web(gw_base, l, tk.fresh())),
        ));
    }
    if dbs.board_sqlite.is_some() {
        let board_sqlite = system.addr("board (SQLite)");
        let tk = t.clone();
        plan.push(Planned::driven("W1 SQLite", "ListPosts, gRPC direct, SQLite", move || {
            Driver::Calls(workloads::list_posts_grpc(board_sqlite, l, tk.fresh()))
        }));
        if let Some((_, Some(_))) = &dbs.board_base {
            let board_base = system.addr("board (SQLite base)");
            let tk = t.clone();
            plan.push(Planned::driven(
                "W1 SQLite base",
                "ListPosts, gRPC direct, SQLite, base binaries",
                move || Driver::Calls(workloads::list_posts_grpc(board_base, l, tk.fresh())),
            ));
        }
    }
    for (id, kind, what) in [
        ("W7 common", workloads::SearchKind::Common, "common 2-syllable words"),
        ("W7 rare", workloads::SearchKind::Rare, "rare phrases"),
        ("W7 absent", workloads::SearchKind::Absent, "absent words"),
        ("W7 latin", workloads::SearchKind::Latin, "Latin words"),
    ] {
        let tk = t.clone();
        plan.push(Planned::driven(id, format!("SearchPosts school-wide, {what}, gRPC direct"), move || {
            Driver::Calls(workloads::search_posts(board, l, tk.fresh(), kind))
        }));
        if dbs.board_sqlite.is_some() {
            let board_sqlite = system.addr("board (SQLite)");
            let tk = t.clone();
            plan.push(Planned::driven(
                match kind {
                    workloads::SearchKind::Common => "W7 common SQLite",
                    workloads::SearchKind::Rare => "W7 rare SQLite",
                    workloads::SearchKind::Absent => "W7 absent SQLite",
                    workloads::SearchKind::Latin => "W7 latin SQLite",
                },
                format!("SearchPosts school-wide, {what}, gRPC direct, SQLite"),
                move || Driver::Calls(workloads::search_posts(board_sqlite, l, tk.fresh(), kind)),
            ));
        }
    }
    let url = dbs.board.clone();
    plan.push(Planned::driven("R2 post", "pgbench: CreatePost transaction", move || Driver::Pgbench {
        url: url.clone(),
        script: reference::create_post(&l),
    }));
    let tk = t.clone();
    plan.push(Planned::driven("W3", "CreatePost, HTTP/JSON through the gateway", move || {
        Driver::Calls(workloads::create_post(gw, l, tk.fresh()))
    }));
    if dbs.board_base.is_some() {
        let gw_base = system.addr("gateway (base)");
        let tk = t.clone();
        plan.push(Planned::driven(
            "W3 base",
            "CreatePost, HTTP/JSON through the gateway, base binaries",
            move || Driver::Calls(workloads::create_post(gw_base, l, tk.fresh())),
        ));
    }
    if dbs.board_sqlite.is_some() {
        let gw_sqlite = system.addr("gateway (SQLite)");
        let tk = t.clone();
        plan.push(Planned::driven(
            "W3 SQLite",
            "CreatePost, HTTP/JSON through the gateway, SQLite",
            move || Driver::Calls(workloads::create_post(gw_sqlite, l, tk.fresh())),
        ));
        if let Some((_, Some(_))) = &dbs.board_base {
            let gw_base = system.addr("gateway (SQLite base)");
            let tk = t.clone();
            plan.push(Planned::driven(
                "W3 SQLite base",
                "CreatePost, HTTP/JSON through the gateway, SQLite, base binaries",
                move || Driver::Calls(workloads::create_post(gw_base, l, tk.fresh())),
            ));
        }
    }
    let url = dbs.board.clone();
    plan.push(Planned::driven("R2 comment", "pgbench: CreateComment transaction, 10 hot posts", move || {
        Driver::Pgbench { url: url.clone(), script: reference::create_comment(&l) }
    }));
    let messaging = system.procs.iter().find(|p| p.name == "messaging").context("no messaging")?.pid;
    plan.push(notify::comments_unnotified(gw, t.clone(), messaging));
    plan.push(notify::comments_notified(gw, t.clone(), dbs.board.clone(), dbs.messaging.clone()));
    let (url, fx) = (dbs.timetable.clone(), fixture.clone());
    plan.push(Planned::driven(
        "R2 lecture",
        "pgbench: AddTimetableLecture transactions, 50% conflicts",
        move || Driver::Pgbench { url: url.clone(), script: reference::add_lecture(&l, &fx) },
    ));
    let (tk, fx) = (t.clone(), fixture.clone());
    plan.push(Planned::driven(
        "W5",
        "AddTimetableLecture, 50% TIME_CONFLICT, HTTP/JSON through the gateway",
        move || Driver::Calls(workloads::add_lecture(gw, fx.clone(), tk.fresh())),
    ));

    let mut results: Vec<Measured> = Vec::new();
    let mut peaks: std::collections::BTreeMap<String, u64> = Default::default();
    let mut sections: Vec<Box<dyn Section>> = Vec::new();
    for workload in &plan {
        if !wanted(&o, workload.id) {
            continue;
        }
        let Prepared { driver, finish } = (workload.prepare)().await?;
        let m = measure(workload.id, &workload.name, driver, &system.procs, o.timing).await;
        if let Some(finish) = finish {
            sections.extend(finish().await?);
        }
        record(m, &mut results, &mut peaks);
        system.check_alive()?;
    }

    // Open loop, at half of what each read just measured closed-loop.
    let open = open_loop::measure_all(&plan, &results, o.timing).await?;
    system.check_alive()?;

    // Last: it leaves the gateway with whatever the attack did to it.
    if wanted(&o, "attack") {
        let call = workloads::list_posts_json(gw, l, t.fresh());
        let gateway = system.procs.iter().find(|p| p.name == "gateway").context("no gateway")?;
        sections.push(Box::new(attack::run(gateway, call, o.timing.warmup, o.timing.duration).await));
        system.check_alive()?;
    }

    tokio::time::sleep(Duration::from_secs(3)).await;
    let memory: Vec<Memory> = system
        .procs
        .iter()
        .map(|p| {
            let (now, _) = p.memory();
            Memory {
                name: p.name.clone(),
                is_service: p.is_service,
                idle_kb: p.idle_kb,
                idle_after_kb: now,
                peak_kb: peaks.get(&p.name).copied().unwrap_or(p.memory().1).max(p.idle_kb),
            }
        })
        .collect();
    system.stop();

    let load = format!("{load_before} before, {} after", load_average());
    let header = header(&o, &layout, &counts, seed_pg, started, &load).await;
    let mut targets = report::targets(&results, &memory);
    targets.extend(open_loop::targets(&open));
    targets.extend(sections.iter().flat_map(|s| s.targets()));
    let mut md = report::markdown(&header, &results, &memory, &targets);
    md.push_str(&open_loop::markdown(&open));
    for section in &sections {
        md.push_str(&section.markdown());
    }
    let title = format!("campus latency at {} in flight (scale {})", workloads::IN_FLIGHT, o.scale);
    std::fs::write(out.join("report.md"), &md)?;
    std::fs::write(out.join("latency.svg"), report::svg(&title, &results))?;
    println!("{md}");
    eprintln!(
        "wrote {} and {} in {:.0}s",
        out.join("report.md").display(),
        out.join("latency.svg").display(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// Keeps a workload's figures and its processes' peak memory.
fn record(m: Measured, results: &mut Vec<Measured>, peaks: &mut std::collections::BTreeMap<String, u64>) {
    if let Some(why) = &m.failure {
        eprintln!("  did not run: {why}");
    }
    for (proc, kb) in &m.peaks {
        let peak = peaks.entry(proc.clone()).or_default();
        *peak = (*peak).max(*kb);
    }
    results.push(m);
}

/// What the figures were measured on.
async fn header(
    o: &Options,
    l: &Layout,
    counts: &[(String, i64)],
    seeded: bool,
    started: Instant,
    load: &str,
) -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines()
                .find_map(|l| l.strip_prefix("model name"))
                .map(|m| m.trim_start_matches([' ', '\t', ':']).to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let online = online_cpus();
    let pg = std::process::Command::new("psql")
        .args(["-XAtc", "show server_version", &o.pg_url])
        .output()
        .ok()
        .map(|out| String::from_utf8_lossy(&out.stdout).trim().to_string())
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| "?".into());
    let rows: Vec<String> = counts.iter().map(|(t, n)| format!("{n} {t}")).collect();
    let date = std::process::Command::new("date")
        .args(["-u", "+%Y-%m-%d %H:%M UTC"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default();
    format!(
        "# campus benchmark ({date})\n\n\
         - machine: {cpu}, CPUs {online}; the load generator (this process, and pgbench) is pinned to \
         CPU {loadgen}; every server process runs on CPUs {servers} (taskset); PostgreSQL {pg} is not pinned.\n\
         - data ({reuse}): {users} users, {rows}, {lectures} lectures (scale {scale}); the SQLite board \
         database holds the same rows.\n\
         - each workload: {in_flight} calls in flight, {warm:.0} s warm-up, then {reps} × {secs:.0} s; the \
         median repetition is shown, errors count every wrong answer (warm-up included), CPU is in % of \
         one core while measured.\n\
         - machine load average (1 min): {load}; the machine is shared, so other work competes for \
         both cores.\n\
         - elapsed until the report: {elapsed:.0} s.\n",
        loadgen = o.loadgen_cpu,
        servers = o.server_cpus,
        reuse = if seeded { "seeded in this run" } else { "reused from an earlier run" },
        users = l.users,
        rows = rows.join(", "),
        lectures = l.lectures,
        scale = o.scale,
        in_flight = workloads::IN_FLIGHT,
        warm = o.timing.warmup.as_secs_f64(),
        reps = o.timing.repetitions,
        secs = o.timing.duration.as_secs_f64(),
        elapsed = started.elapsed().as_secs_f64(),
    )
}
