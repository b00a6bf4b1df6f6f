//! The output: a markdown report (workloads, targets with ✓/✗, memory per process) and a
//! hand-written SVG chart of the latency percentiles.

use std::fmt::Write as _;
use std::time::Duration;

use campus_testkit::bench::ms;

use crate::measure::{LOAD_GENERATOR, Measured, POSTGRES};

/// RSS figures of one process, in KiB.
#[derive(Debug, Clone)]
pub(crate) struct Memory {
    pub(crate) name: String,
    pub(crate) is_service: bool,
    pub(crate) idle_kb: u64,
    pub(crate) idle_after_kb: u64,
    pub(crate) peak_kb: u64,
}

const IDLE_LIMIT_KB: u64 = 20 * 1024;
const PEAK_LIMIT_KB: u64 = 60 * 1024;
const READ_P99_LIMIT_MS: f64 = 10.0;
const SEARCH_P99_LIMIT_MS: f64 = 50.0;
/// The read workloads the p99 target applies to.
const READS: [&str; 5] = ["W1", "W1 gw", "W2", "W6", "W1 SQLite"];

fn mb(kb: u64) -> f64 {
    kb as f64 / 1024.0
}

fn mark(ok: bool) -> &'static str {
    if ok { "✓" } else { "✗" }
}

/// One line of the targets table.
#[derive(Debug, Clone)]
pub(crate) struct Target {
    pub(crate) target: String,
    pub(crate) measured: String,
    /// `None` when a workload it needs did not run.
    pub(crate) met: Option<bool>,
}

fn find<'a>(results: &'a [Measured], id: &str) -> Option<&'a Measured> {
    results.iter().find(|m| m.id == id && m.failure.is_none())
}

fn ratio_target(results: &[Measured], target: &str, a: &str, b: &str, floor: f64) -> Target {
    match (find(results, a), find(results, b)) {
        (Some(x), Some(y)) if y.report.per_second() > 0.0 => {
            let ratio = x.report.per_second() / y.report.per_second();
            Target {
                target: target.into(),
                measured: format!(
                    "{ratio:.2}× ({:.0} / {:.0} req/s)",
                    x.report.per_second(),
                    y.report.per_second()
                ),
                met: Some(ratio >= floor),
            }
        }
        _ => Target { target: target.into(), measured: "not measured".into(), met: None },
    }
}

/// CPU per call of every server process and PostgreSQL (the load generator left out).
fn system_cpu_per_call(m: &Measured) -> Duration {
    m.cpu_per_call.iter().filter(|(name, _)| name.as_str() != LOAD_GENERATOR).map(|(_, cpu)| *cpu).sum()
}

/// `a`'s CPU per call (servers and PostgreSQL) at most `ceiling` × `b`'s.
fn cpu_target(results: &[Measured], a: &str, b: &str, ceiling: f64) -> Target {
    let target = format!("{a} CPU per call (servers + PostgreSQL) ≤ {ceiling}× {b}'s");
    match (find(results, a), find(results, b)) {
        (Some(x), Some(y)) if !system_cpu_per_call(y).is_zero() => {
            let (x, y) = (system_cpu_per_call(x), system_cpu_per_call(y));
            let ratio = x.as_secs_f64() / y.as_secs_f64();
            Target {
                target,
                measured: format!("{ratio:.2}× ({} / {} µs)", x.as_micros(), y.as_micros()),
                met: Some(ratio <= ceiling),
            }
        }
        _ => Target { target, measured: "not measured".into(), met: None },
    }
}

/// Every target of the issue against the figures.
pub(crate) fn targets(results: &[Measured], memory: &[Memory]) -> Vec<Target> {
    let mut out = vec![
        ratio_target(results, "W1 ≥ 0.5× R2 (pgbench, ListPosts SQL)", "W1", "R2 list", 0.5),
        ratio_target(results, "W1 ≥ 0.25× R1 (tonic hello-world)", "W1", "R1", 0.25),
        ratio_target(results, "W2 ≥ 0.6× W1", "W2", "W1", 0.6),
        ratio_target(results, "W2 over HTTPS ≥ 0.85× W2", "W2 TLS", "W2", 0.85),
        ratio_target(results, "W3 ≥ 0.7× R2 (pgbench, CreatePost transaction)", "W3", "R2 post", 0.7),
        ratio_target(results, "W6 ≥ 0.9× gRPC through the gateway", "W6", "W1 gw", 0.9),
    ];
    if find(results, "W4 notify").is_some() {
        out.push(ratio_target(results, "W4 with notifications on ≥ 0.9× W4 (off)", "W4 notify", "W4", 0.9));
    }
    // Against the binaries of `--base-bin-dir` (before the search index and the list
    // previews), on a copy of the data set without the index, in the same run: the index must
    // not tax reads or writes much, and a list page must cost half.
    for id in ["W1", "W3", "W1 SQLite", "W3 SQLite"] {
        let base = format!("{id} base");
        if find(results, &base).is_some() {
            let target = format!("{id} ≥ 0.9× {base}");
            out.push(ratio_target(results, &target, id, &base, 0.9));
        }
    }
    if find(results, "W2 base").is_some() {
        out.push(ratio_target(results, "W2 ≥ 1.8× W2 base", "W2", "W2 base", 1.8));
        out.push(cpu_target(results, "W2", "W2 base", 0.5));
    }
    if find(results, "R2 list base").is_some() {
        out.push(ratio_target(
            results,
            "R2 list ≥ 2× R2 list base (the SQL before previews)",
            "R2 list",
            "R2 list base",
            2.0,
        ));
    }
    for kind in ["common", "rare", "absent", "latin"] {
        for id in [format!("W7 {kind}"), format!("W7 {kind} SQLite")] {
            if let Some(m) = find(results, &id) {
                let p99 = ms(m.report.p99);
                out.push(Target {
                    target: format!("p99 ≤ 50 ms for search: {id}"),
                    measured: format!("{p99:.2} ms"),
                    met: Some(p99 <= SEARCH_P99_LIMIT_MS),
                });
            }
        }
    }
    for id in READS {
        out.push(match find(results, id) {
            Some(m) => {
                let p99 = ms(m.report.p99);
                Target {
                    target: format!("p99 ≤ 10 ms for reads: {id}"),
                    measured: format!("{p99:.2} ms"),
                    met: Some(p99 <= READ_P99_LIMIT_MS),
                }
            }
            None => Target {
                target: format!("p99 ≤ 10 ms for reads: {id}"),
                measured: "not measured".into(),
                met: None,
            },
        });
    }
    let services: Vec<&Memory> = memory.iter().filter(|m| m.is_service).collect();
    if let Some(worst) = services.iter().max_by_key(|m| m.idle_kb) {
        out.push(Target {
            target: "every service and gateway ≤ 20 MB RSS idle".into(),
            measured: format!("largest: {} {:.1} MB", worst.name, mb(worst.idle_kb)),
            met: Some(services.iter().all(|m| m.idle_kb <= IDLE_LIMIT_KB)),
        });
    }
    if let Some(worst) = services.iter().max_by_key(|m| m.peak_kb) {
        out.push(Target {
            target: "every service and gateway ≤ 60 MB RSS at peak".into(),
            measured: format!("largest: {} {:.1} MB", worst.name, mb(worst.peak_kb)),
            met: Some(services.iter().all(|m| m.peak_kb <= PEAK_LIMIT_KB)),
        });
    }
    let errors: u64 = results.iter().map(|m| m.report.errors).sum();
    let failed = results.iter().filter(|m| m.failure.is_some()).count();
    out.push(Target {
        target: "zero errors".into(),
        measured: if failed > 0 {
            format!("{errors} wrong answers, {failed} workloads failed to run")
        } else {
            format!("{errors} wrong answers")
        },
        met: Some(errors == 0 && failed == 0),
    });
    out
}

/// The markdown report.
pub(crate) fn markdown(header: &str, results: &[Measured], memory: &[Memory], targets: &[Target]) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "{header}");
    let _ = writeln!(s, "## Workloads\n");
    let _ = writeln!(
        s,
        "| id | workload | req/s | p50 ms | p90 ms | p99 ms | errors | server CPU | PostgreSQL CPU | load generator CPU | peak RSS (largest process) |"
    );
    let _ = writeln!(s, "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|");
    for m in results {
        let r = &m.report;
        if let Some(why) = &m.failure {
            let why = why.replace(['\n', '|'], " ");
            let _ =
                writeln!(s, "| {} | {} | – | – | – | – | did not run: {why} | – | – | – | – |", m.id, r.name);
            continue;
        }
        let peak = m
            .peaks
            .iter()
            .max_by_key(|(_, kb)| **kb)
            .map(|(name, kb)| format!("{:.1} MB {name}", mb(*kb)))
            .unwrap_or_default();
        let _ = writeln!(
            s,
            "| {} | {} | {:.0} | {:.2} | {:.2} | {:.2} | {} | {:.0}% | {:.0}% | {:.0}% | {peak} |",
            m.id,
            r.name,
            r.per_second(),
            ms(r.p50),
            ms(r.p90),
            ms(r.p99),
            r.errors,
            m.server_cpu * 100.0,
            m.db_cpu * 100.0,
            m.client_cpu * 100.0,
        );
    }
    let _ = writeln!(s, "\n## Targets\n");
    let _ = writeln!(s, "| target | measured | |\n|---|---|---|");
    for t in targets {
        let verdict = t.met.map(mark).unwrap_or("–");
        let _ = writeln!(s, "| {} | {} | {verdict} |", t.target, t.measured);
    }
    cpu_table(&mut s, results);
    let _ = writeln!(s, "\n## Memory (RSS)\n");
    let _ = writeln!(
        s,
        "| process | idle, before load | idle, after load | peak | ≤ 20 MB idle, ≤ 60 MB peak |\n|---|---:|---:|---:|---|"
    );
    for m in memory {
        let verdict = if m.is_service {
            format!("{} {}", mark(m.idle_kb <= IDLE_LIMIT_KB), mark(m.peak_kb <= PEAK_LIMIT_KB))
        } else {
            "(reference, not a service)".into()
        };
        let _ = writeln!(
            s,
            "| {} | {:.1} MB | {:.1} MB | {:.1} MB | {verdict} |",
            m.name,
            mb(m.idle_kb),
            mb(m.idle_after_kb),
            mb(m.peak_kb)
        );
    }
    s
}

/// Where each workload's CPU goes: microseconds per call of every process that worked.
fn cpu_table(s: &mut String, results: &[Measured]) {
    let mut columns: Vec<&str> = Vec::new();
    for m in results {
        for (name, cpu) in &m.cpu_per_call {
            if cpu.as_micros() >= 5 && !columns.contains(&name.as_str()) {
                columns.push(name);
            }
        }
    }
    if columns.is_empty() {
        return;
    }
    // The servers first, then the database and the load generator.
    columns.sort_by_key(|c| [POSTGRES, LOAD_GENERATOR].iter().position(|x| x == c));
    let _ = writeln!(s, "\n## CPU per call (µs)\n");
    let _ = writeln!(s, "| id | {} | total |", columns.join(" | "));
    let _ = writeln!(s, "|---|{}---:|", "---:|".repeat(columns.len()));
    for m in results.iter().filter(|m| m.failure.is_none()) {
        let cells: Vec<String> = columns
            .iter()
            .map(|c| match m.cpu_per_call.get(*c) {
                Some(cpu) if cpu.as_micros() >= 5 => cpu.as_micros().to_string(),
                _ => String::new(),
            })
            .collect();
        let total: u128 = m.cpu_per_call.values().map(|d| d.as_micros()).sum();
        let _ = writeln!(s, "| {} | {} | {total} |", m.id, cells.join(" | "));
    }
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

/// A horizontal bar chart of p50, p90 and p99 per workload on a logarithmic millisecond axis.
pub(crate) fn svg(title: &str, results: &[Measured]) -> String {
    let rows: Vec<&Measured> =
        results.iter().filter(|m| m.failure.is_none() && m.report.requests > 0).collect();
    let (label_w, plot_w, top, row_h) = (330.0, 560.0, 60.0, 34.0);
    let width = label_w + plot_w + 30.0;
    let height = top + row_h * rows.len() as f64 + 50.0;
    let max_ms = rows.iter().map(|m| ms(m.report.p99)).fold(1.0, f64::max);
    let min_ms = rows.iter().map(|m| ms(m.report.p50)).fold(f64::MAX, f64::min);
    let lo = if rows.is_empty() { -1.0 } else { min_ms.log10().floor().clamp(-2.0, 2.0) };
    let hi = max_ms.log10().ceil().max(lo + 1.0);
    let x = |v: f64| label_w + (v.max(0.01).log10() - lo) / (hi - lo) * plot_w;
    let mut s = String::new();
    let _ = writeln!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(s, r#"<rect width="100%" height="100%" fill="white"/>"#);
    let _ = writeln!(s, r#"<text x="10" y="20" font-size="15" font-weight="bold">{}</text>"#, escape(title));
    let colors = [("p50", "#4c78a8"), ("p90", "#f58518"), ("p99", "#e45756")];
    for (i, (label, color)) in colors.iter().enumerate() {
        let lx = label_w + i as f64 * 80.0;
        let _ = writeln!(s, r#"<rect x="{lx}" y="32" width="12" height="12" fill="{color}"/>"#);
        let _ = writeln!(s, r#"<text x="{}" y="42">{label}</text>"#, lx + 16.0);
    }
    let bottom = top + row_h * rows.len() as f64;
    let mut decade = lo;
    while decade <= hi {
        for step in [1.0, 2.0, 5.0] {
            let v = 10f64.powf(decade) * step;
            if v > 10f64.powf(hi) * 1.0001 {
                break;
            }
            let xv = x(v);
            let stroke = if step == 1.0 { "#999" } else { "#ddd" };
            let _ = writeln!(
                s,
                r#"<line x1="{xv:.1}" y1="{top}" x2="{xv:.1}" y2="{bottom}" stroke="{stroke}"/>"#
            );
            if step == 1.0 || hi - lo <= 2.0 {
                let label = if v < 1.0 { format!("{v}") } else { format!("{v:.0}") };
                let _ = writeln!(
                    s,
                    r#"<text x="{xv:.1}" y="{}" text-anchor="middle">{label}</text>"#,
                    bottom + 15.0
                );
            }
        }
        decade += 1.0;
    }
    let target = x(READ_P99_LIMIT_MS);
    let _ = writeln!(
        s,
        r##"<line x1="{target:.1}" y1="{}" x2="{target:.1}" y2="{bottom}" stroke="#e45756" stroke-dasharray="4 3"/>"##,
        top - 6.0
    );
    let _ = writeln!(
        s,
        r##"<text x="{:.1}" y="{}" font-size="10" fill="#e45756">reads' p99 target</text>"##,
        target + 3.0,
        top - 2.0
    );
    let _ = writeln!(
        s,
        r#"<text x="{}" y="{}" text-anchor="middle">latency, ms (log scale)</text>"#,
        label_w + plot_w / 2.0,
        bottom + 35.0
    );
    for (row, m) in rows.iter().enumerate() {
        let y0 = top + row as f64 * row_h + 4.0;
        let name = format!("{} {}", m.id, m.report.name);
        let name: String = if name.chars().count() > 46 {
            name.chars().take(45).chain(std::iter::once('…')).collect()
        } else {
            name
        };
        let _ = writeln!(s, r#"<text x="10" y="{}">{}</text>"#, y0 + 17.0, escape(&name));
        for (i, (value, (label, color))) in
            [m.report.p50, m.report.p90, m.report.p99].iter().zip(colors).enumerate()
        {
            let v = ms(*value);
            let y = y0 + i as f64 * 9.0;
            let w = (x(v) - label_w).max(1.0);
            let _ = writeln!(
                s,
                r#"<rect x="{label_w}" y="{y:.1}" width="{w:.1}" height="8" fill="{color}"><title>{label} {v:.2} ms</title></rect>"#
            );
        }
        let _ = writeln!(
            s,
            r##"<text x="{:.1}" y="{:.1}" font-size="10" fill="#444">{:.2} ms</text>"##,
            x(ms(m.report.p99)) + 4.0,
            y0 + 25.0,
            ms(m.report.p99)
        );
    }
    s.push_str("</svg>\n");
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use campus_testkit::bench::Report;
    use std::collections::BTreeMap;
    use std::time::Duration;

    fn measured(id: &'static str, requests: u64, p99_ms: u64, errors: u64) -> Measured {
        Measured {
            id,
            report: Report {
                name: format!("{id} <workload>"),
                requests,
                errors,
                elapsed: Duration::from_secs(1),
                p50: Duration::from_micros(300),
                p90: Duration::from_millis(1),
                p99: Duration::from_millis(p99_ms),
            },
            server_cpu: 0.9,
            db_cpu: 0.5,
            client_cpu: 0.7,
            cpu_per_call: BTreeMap::from([
                ("board".to_string(), Duration::from_micros(150)),
                ("PostgreSQL".to_string(), Duration::from_micros(90)),
            ]),
            peaks: BTreeMap::from([("board".to_string(), 30 * 1024)]),
            failure: None,
        }
    }

    #[test]
    fn targets_compare_the_right_workloads() {
        let results = vec![
            measured("R1", 40_000, 3, 0),
            measured("R2 list", 10_000, 12, 0),
            measured("W1", 6_000, 8, 0),
            measured("W2", 3_000, 15, 2),
        ];
        let memory = vec![Memory {
            name: "board".into(),
            is_service: true,
            idle_kb: 12 * 1024,
            idle_after_kb: 20 * 1024,
            peak_kb: 70 * 1024,
        }];
        let t = targets(&results, &memory);
        let get = |name: &str| t.iter().find(|t| t.target.starts_with(name)).unwrap();
        assert_eq!(get("W1 ≥ 0.5× R2").met, Some(true), "{:?}", get("W1 ≥ 0.5× R2"));
        assert_eq!(get("W1 ≥ 0.25× R1").met, Some(false), "6000/40000 = 0.15");
        assert_eq!(get("W2 ≥ 0.6× W1").met, Some(false), "3000/6000 = 0.5");
        assert_eq!(get("W3").met, None, "W3 did not run");
        assert_eq!(get("p99 ≤ 10 ms for reads: W1").met, Some(true));
        assert_eq!(get("p99 ≤ 10 ms for reads: W2").met, Some(false));
        assert_eq!(get("every service and gateway ≤ 20 MB").met, Some(true));
        assert_eq!(get("every service and gateway ≤ 60 MB").met, Some(false));
        assert_eq!(get("zero errors").met, Some(false));

        assert!(t.iter().all(|t| !t.target.starts_with("W2 ≥ 1.8×")), "no base ran");

        // Against a base run: twice the calls for 0.6× the CPU (the load generator left out).
        let mut base = measured("W2 base", 1_500, 30, 0);
        base.cpu_per_call.insert("board".into(), Duration::from_micros(300));
        base.cpu_per_call.insert(LOAD_GENERATOR.into(), Duration::from_micros(1_000));
        let with_base = targets(&[results.clone(), vec![base]].concat(), &memory);
        let get = |name: &str| with_base.iter().find(|t| t.target.starts_with(name)).unwrap();
        assert_eq!(get("W2 ≥ 1.8× W2 base").met, Some(true), "{:?}", get("W2 ≥ 1.8×"));
        let cpu = get("W2 CPU per call");
        assert_eq!(cpu.met, Some(false), "240 / 390 µs = 0.62: {cpu:?}");
        assert!(cpu.measured.starts_with("0.62× (240 / 390 µs)"), "{cpu:?}");

        let md = markdown("# t", &results, &memory, &t);
        assert!(
            md.contains(
                "| W1 | W1 <workload> | 6000 | 0.30 | 1.00 | 8.00 | 0 | 90% | 50% | 70% | 30.0 MB board |"
            ),
            "{md}"
        );
        assert!(md.contains("| id | board | PostgreSQL | total |\n"), "{md}");
        assert!(md.contains("| W1 | 150 | 90 | 240 |"), "{md}");
        let chart = svg("t", &results);
        assert!(chart.starts_with("<svg") && chart.trim_end().ends_with("</svg>"));
        assert!(chart.contains("W1 &lt;workload&gt;"), "labels are escaped");
        assert_eq!(chart.matches("height=\"8\"").count(), 12, "three bars per workload");
    }
}
