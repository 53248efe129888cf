//! The hostile run of `bench/hostile.sh` and `bench/run.sh` ("Hostile clients" in
//! BENCHMARKS.md): attacks from loopback addresses (each 127.x.y.z a client of its own)
//! against a running server, each for a while, with an honest client on 127.0.0.200
//! validating a token every 20 ms and logging in every half second throughout, on a new
//! connection each time. For each attack: what the honest client got during it and in the
//! seconds after, the server's memory before, at its peak and after, and its open files.
//!
//! `cargo run --release -p reference-server --example hostile -- URL USER PASSWORD SERVER_PID
//! [SECONDS]`. Prints a Markdown table, then one JSON line of the raw figures. Needs an open
//! files limit of several thousand (`ulimit -n 20000`) for itself and the server.
//! `HOSTILE_ONLY=WORDS` plays only the attacks whose name contains WORDS.

mod attacks;
mod honest;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tokio::task::JoinSet;

use attacks::{ATTACKS, Attack, Counts, launch};
use honest::{Target, access_token, honest_for, login, sample_peaks, server_state};

/// The target and the seconds each attack lasts, from the command line; exits 2 on misuse.
fn target_from_args() -> (Arc<Target>, u64) {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [url, user, password, pid, rest @ ..] = args.as_slice() else {
        eprintln!("usage: hostile URL USER PASSWORD SERVER_PID [SECONDS]");
        std::process::exit(2);
    };
    let seconds: u64 = rest.first().and_then(|s| s.parse().ok()).unwrap_or(10);
    let base = url.trim_end_matches('/').to_owned();
    let addr: SocketAddr = base
        .trim_start_matches("http://")
        .parse()
        .unwrap_or_else(|_| {
            eprintln!("URL must be http://IP:PORT");
            std::process::exit(2);
        });
    let t = Arc::new(Target {
        addr,
        user: user.clone(),
        password: password.clone(),
        pid: pid.parse().unwrap_or(0),
    });
    (t, seconds)
}

/// What the guesses of an attack got, for its row.
async fn guesses_said(attack: Attack, t: &Target, counts: &Counts) -> String {
    let [sent, judged, refused] = [0, 1, 2].map(|i| counts[i].load(Ordering::SeqCst));
    let mut said = format!(" ({sent} guesses: {judged} judged (401), {refused} refused (429)");
    if attack == Attack::NewAddresses {
        // And the right password from yet another address the account has never seen.
        let right = login(t, std::net::IpAddr::from([127, 8, 0, 1]), &t.password).await;
        said.push_str(&format!("; the right password from a new address: {right}"));
    }
    said.push(')');
    said
}

#[tokio::main]
async fn main() {
    let (t, seconds) = target_from_args();
    let usual = Duration::from_secs(seconds);
    let after = Duration::from_secs(3);
    let token = access_token(&t).await;
    println!(
        "| attack | honest client during it | honest client after it | server RSS before / peak / after | open files peak / after |"
    );
    println!("|---|---|---|---|---|");
    let mut raw = Vec::new();
    let only = std::env::var("HOSTILE_ONLY").unwrap_or_default();
    for (attack, name) in ATTACKS
        .into_iter()
        .filter(|(_, n)| n.contains(only.as_str()))
    {
        let (rss_before, _) = server_state(t.pid);
        let stop = Arc::new(AtomicBool::new(false));
        let sampling = Arc::new(AtomicBool::new(false));
        let peaks = sample_peaks(t.pid, Arc::clone(&sampling));
        let counts: Counts = Arc::default();
        let mut set = JoinSet::new();
        launch(attack, &t, &stop, &counts, &mut set);
        tokio::time::sleep(Duration::from_millis(500)).await;
        let seen = honest_for(&t, attack.lasts(usual), &token).await;
        if attack.guesses() && attack != Attack::Lockout && attack != Attack::TenThousand {
            // A sequence of guesses: it ends by itself, and is measured whole.
            while set.join_next().await.is_some() {}
        }
        stop.store(true, Ordering::SeqCst);
        set.abort_all();
        while set.join_next().await.is_some() {}
        sampling.store(true, Ordering::SeqCst);
        let (rss_peak, fds_peak) = peaks.await.unwrap_or_default();
        let seen_after = honest_for(&t, after, &token).await;
        let (rss_after, fds_after) = server_state(t.pid);
        let guesses = if attack.guesses() {
            guesses_said(attack, &t, &counts).await
        } else {
            String::new()
        };
        println!(
            "| {name}{guesses} | {} | {} | {rss_before:.1} / {rss_peak:.1} / {rss_after:.1} MiB | {fds_peak} / {fds_after} |",
            seen.cell(),
            seen_after.cell()
        );
        let guessed = [0, 1, 2].map(|i| counts[i].load(Ordering::SeqCst));
        raw.push(serde_json::json!({
            "attack": name,
            "during": {"calls": seen.calls, "other": seen.other, "p99_ms": seen.p99_ms()},
            "after": {"calls": seen_after.calls, "other": seen_after.other,
                      "p99_ms": seen_after.p99_ms()},
            "server": {"rss_before": rss_before, "rss_peak": rss_peak, "rss_after": rss_after,
                       "fds_peak": fds_peak, "fds_after": fds_after},
            "guesses": guessed,
        }));
    }
    println!("{}", serde_json::Value::Array(raw));
}
