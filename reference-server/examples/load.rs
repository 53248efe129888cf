//! The load generator of `bench/run.sh`: the mixed traffic of `tests/it/load.rs` (logins, mints,
//! validations, regenerations, revocations) for as long as asked, then one line per operation
//! and the server's memory.
//!
//! `cargo run --release -p reference-server --example load -- URL USER PASSWORD SECONDS
//! CONNECTIONS [SERVER_PID]`. Exits 1 if any answer was a 5xx other than 503, or none came.

#[path = "../tests/support/load.rs"]
mod load;

use std::time::Duration;

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [url, user, password, seconds, connections, rest @ ..] = args.as_slice() else {
        eprintln!("usage: load URL USER PASSWORD SECONDS CONNECTIONS [SERVER_PID]");
        std::process::exit(2);
    };
    let (Ok(seconds), Ok(connections)) = (seconds.parse::<f64>(), connections.parse::<usize>())
    else {
        eprintln!("SECONDS and CONNECTIONS must be numbers");
        std::process::exit(2);
    };
    let pid: Option<u32> = rest.first().and_then(|p| p.parse().ok());
    let mut tally = load::run(
        url.trim_end_matches('/'),
        user,
        password,
        connections,
        Duration::from_secs_f64(seconds),
    )
    .await;
    let memory = |field| pid.and_then(|p| load::memory_mib(p, field));
    let (after, peak) = (memory("VmRSS"), memory("VmHWM"));
    println!(
        "{} requests in {seconds} s ({:.0}/s) over {connections} connections",
        tally.total(),
        tally.total() as f64 / seconds
    );
    print!("{}", tally.summary(seconds));
    if let (Some(after), Some(peak)) = (after, peak) {
        println!("server RSS right after the load: {after:.1} MiB (peak {peak:.1} MiB)");
    }
    let unexpected = tally.unexpected();
    println!("unexpected answers (5xx but 503, or none): {unexpected:?}");
    if !unexpected.is_empty() || tally.total() == 0 {
        std::process::exit(1);
    }
}
