//! The short variant of the load run (`bench/run.sh` runs it for a minute on a release
//! build): mixed traffic at capacity, logins included, against the server binary. Nothing but
//! the answers this traffic calls for (each operation's success, 503 at capacity, 401 for an
//! access token already revoked; no other 4xx, no 5xx, no dropped connection), and normal
//! answers right after. Throughput and memory are figures, printed here and measured in
//! `bench/` (BENCHMARKS.md): a test that asserted them would pass or fail with the machine.

use crate::common;
#[path = "../support/load.rs"]
mod traffic;

use std::time::Duration;

use common::{PASSWORD, USER};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mixed_load_at_capacity_gets_only_documented_answers_in_bounded_memory() {
    let dir = tempfile::tempdir().expect("tempdir");
    let user = format!("{USER}:{PASSWORD}");
    let (child, base) = common::spawn_server(&["--user", &user], &dir.path().join("load.db"));
    let pid = child.id();
    let seconds = 5.0;
    let mut tally = traffic::run(&base, USER, PASSWORD, 32, Duration::from_secs_f64(seconds)).await;
    eprintln!(
        "{} requests in {seconds} s\n{}",
        tally.total(),
        tally.summary(seconds)
    );
    assert!(tally.unexpected().is_empty(), "{:?}", tally.unexpected());
    let logins = tally
        .answers
        .iter()
        .filter(|((op, s), _)| *op == "createRefreshToken" && *s == 201)
        .count();
    assert!(logins > 0, "no login succeeded under load");

    // Right after: normal answers.
    let after = traffic::run(&base, USER, PASSWORD, 1, Duration::from_millis(500)).await;
    let odd: Vec<_> = after
        .answers
        .iter()
        .filter(|((_, s), _)| !matches!(s, 200 | 201 | 401))
        .collect();
    assert!(odd.is_empty(), "after the load: {odd:?}");

    let peak = traffic::memory_mib(pid, "VmHWM").expect("the server's memory");
    drop(child);
    eprintln!("peak RSS {peak:.1} MiB (a figure; bench/run.sh measures it on a release build)");
}
