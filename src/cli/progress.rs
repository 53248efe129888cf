//! A sign of life during a run: cases done of all, and failures so far, on stderr, only where
//! a person watches it. Piped, redirected, or in GitHub Actions (whose log shows stderr as
//! it comes but redraws nothing), nothing is drawn.

use std::io::IsTerminal as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// The run's progress bar, or nothing where nobody watches.
pub struct Bar {
    bar: Option<ProgressBar>,
    failed: AtomicU64,
}

impl Bar {
    /// A bar for `total` cases, drawn on stderr when it is a terminal and the run is not in
    /// GitHub Actions.
    pub fn new(total: usize) -> Self {
        let watched = std::io::stderr().is_terminal()
            && std::env::var_os("GITHUB_ACTIONS").is_none_or(|v| v.is_empty());
        let bar = watched.then(|| {
            let bar = ProgressBar::with_draw_target(
                Some(u64::try_from(total).unwrap_or(u64::MAX)),
                ProgressDrawTarget::stderr(),
            );
            bar.set_style(
                ProgressStyle::with_template("{elapsed:>4} [{bar:30}] {pos}/{len} cases{msg}")
                    .unwrap_or_else(|_| ProgressStyle::default_bar())
                    .progress_chars("=> "),
            );
            // Redrawn on a timer too, so a slow case (a long timeout, `--rate`) still shows
            // the time passing.
            bar.enable_steady_tick(Duration::from_millis(250));
            bar
        });
        Self {
            bar,
            failed: AtomicU64::new(0),
        }
    }

    /// One more case finished; `failed` when it failed.
    pub fn case_done(&self, failed: bool) {
        let Some(bar) = &self.bar else { return };
        if failed {
            let so_far = self.failed.fetch_add(1, Ordering::Relaxed) + 1;
            bar.set_message(format!(", {so_far} failed"));
        }
        bar.inc(1);
    }

    /// Runs `write` (a line on stdout) with the bar cleared and redrawn after, so the two do not
    /// garble each other on one terminal.
    pub fn suspend<R>(&self, write: impl FnOnce() -> R) -> R {
        match &self.bar {
            Some(bar) => bar.suspend(write),
            None => write(),
        }
    }

    /// Takes the bar off the terminal: the report follows.
    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}
