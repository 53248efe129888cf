//! The crash loop: the server process is killed with SIGKILL at random moments while clients
//! mint, regenerate and revoke; after each restart the database passes `PRAGMA
//! integrity_check`, and every change the server acknowledged holds.
//!
//! `CRASH_KILLS` sets the number of kills (20 by default; `bench/crash-loop.sh 200` runs the
//! long variant) and `CRASH_SEED` repeats a run's timing (the seed is printed).
//!
//! Each client works on its own chain of tokens, one request at a time, so at a kill at most
//! one of its requests is unanswered, and the test knows exactly which tokens it may or may not
//! have changed. What was answered must hold: an issued token validates as active, a revoked
//! one is refused as expired or revoked. What was not answered may have happened or not, but
//! the server must still answer for it with 200 or 401, never anything else.

use crate::common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use common::{Enc, PASSWORD, USER, encode};
use serde_json::{Value, json};

/// Clients sending at once.
const CLIENTS: usize = 6;

/// What the test expects of a token after the restart.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Expect {
    /// Issued, and nothing that could revoke it was sent: it must be active.
    Active,
    /// Revoked, and the server said so: it must be refused as expired or revoked.
    Revoked,
    /// A request that might have revoked it got no answer: either, but nothing else.
    Either,
}

/// A token the test issued, and what it expects of it.
#[derive(Clone, Debug)]
struct Known {
    op: &'static str,
    fields: Value,
    expect: Expect,
}

/// A tiny xorshift generator: reproducible from the printed seed, no dependency.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

/// The server process, on a fresh port, over the same database each time.
struct Server {
    child: common::KillOnDrop,
    base: String,
}

impl Server {
    fn start(db: &std::path::Path) -> Self {
        let user = format!("{USER}:{PASSWORD}");
        let (child, base) =
            common::spawn_server(&["--max-failed-logins", "1000000", "--user", &user], db);
        Self { child, base }
    }

    /// SIGKILL: no shutdown, no flush, nothing.
    fn kill(mut self) {
        self.child.kill().expect("kill");
        self.child.wait().expect("reap");
    }
}

async fn post(
    http: &reqwest::Client,
    base: &str,
    op: &str,
    fields: &Value,
) -> Option<(u16, Value)> {
    let pairs: Vec<(&str, Value)> = fields
        .as_object()
        .expect("object")
        .iter()
        .map(|(k, v)| (k.as_str(), v.clone()))
        .collect();
    let (content_type, body) = encode(Enc::Form, &pairs);
    let resp = http
        .post(format!("{base}/integration/v1/{op}/"))
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .ok()?;
    let status = resp.status().as_u16();
    let bytes = resp.bytes().await.ok()?;
    Some((
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    ))
}

fn refresh_fields(token: &Value) -> Value {
    json!({"refresh_token": token["refresh_token"], "user_id": token["user_id"]})
}

fn access_fields(token: &Value) -> Value {
    json!({"api_access_token": token["api_access_token"], "user_id": token["user_id"]})
}

/// One client's chain of tokens: what it issued, and which are current.
struct Chain {
    http: reqwest::Client,
    base: String,
    refresh: Value,
    known: Vec<Known>,
    /// The current refresh token and its live access tokens, as indexes into `known`.
    parent: usize,
    children: Vec<usize>,
}

impl Chain {
    fn mark(&mut self, which: &[usize], expect: Expect) {
        for &i in which {
            self.known[i].expect = expect;
        }
    }

    /// Each step returns whether it was answered; an unanswered one ends the client.
    async fn mint(&mut self) -> bool {
        let fields = refresh_fields(&self.refresh);
        match post(&self.http, &self.base, "createAPIAccessToken", &fields).await {
            Some((201, access)) => {
                self.children.push(self.known.len());
                self.known.push(Known {
                    op: "validateAPIAccessToken",
                    fields: access_fields(&access),
                    expect: Expect::Active,
                });
                true
            }
            Some((status, body)) => panic!("mint answered {status}: {body}"),
            // A token may or may not have been minted; none the test knows of changed.
            None => false,
        }
    }

    async fn revoke(&mut self) -> bool {
        let fields = refresh_fields(&self.refresh);
        let children = std::mem::take(&mut self.children);
        match post(&self.http, &self.base, "revokeAPIAccessTokens", &fields).await {
            Some((200, _)) => {
                self.mark(&children, Expect::Revoked);
                true
            }
            Some((status, body)) => panic!("revoke answered {status}: {body}"),
            None => {
                self.mark(&children, Expect::Either);
                false
            }
        }
    }

    /// Regeneration revokes the old refresh token and its access tokens.
    async fn regen(&mut self) -> bool {
        let fields = refresh_fields(&self.refresh);
        let mut gone = std::mem::take(&mut self.children);
        gone.push(self.parent);
        match post(&self.http, &self.base, "regenRefreshToken", &fields).await {
            Some((200 | 201, new)) => {
                self.mark(&gone, Expect::Revoked);
                self.parent = self.known.len();
                self.known.push(Known {
                    op: "validateRefreshToken",
                    fields: refresh_fields(&new),
                    expect: Expect::Active,
                });
                self.refresh = new;
                true
            }
            Some((status, body)) => panic!("regeneration answered {status}: {body}"),
            None => {
                self.mark(&gone, Expect::Either);
                false
            }
        }
    }
}

/// One client until its first unanswered request: logs in, then mints, revokes and
/// regenerates on its own chain at random, recording what the server acknowledged and
/// counting it in `acked`.
async fn client(base: String, seed: u64, name: String, acked: Arc<AtomicUsize>) -> Vec<Known> {
    let http = common::client();
    let login = json!({"username": USER, "password": PASSWORD, "name": name});
    let refresh = match post(&http, &base, "createRefreshToken", &login).await {
        Some((201, refresh)) => refresh,
        // Killed before it answered: nothing of this client's to check.
        None => return Vec::new(),
        Some((status, body)) => panic!("the login answered {status}: {body}"),
    };
    let known = vec![Known {
        op: "validateRefreshToken",
        fields: refresh_fields(&refresh),
        expect: Expect::Active,
    }];
    let mut chain = Chain {
        http,
        base,
        refresh,
        known,
        parent: 0,
        children: Vec::new(),
    };
    let mut rng = Rng(seed | 1);
    loop {
        let answered = match rng.below(10) {
            0..=5 => chain.mint().await,
            6..=7 => chain.revoke().await,
            _ => chain.regen().await,
        };
        if !answered {
            return chain.known;
        }
        acked.fetch_add(1, Ordering::SeqCst);
    }
}

/// Checks every known token against the server; returns how many were checked.
async fn verify(base: &str, known: &[Known]) -> usize {
    let http = common::client();
    for k in known {
        let (status, body) = post(&http, base, k.op, &k.fields)
            .await
            .expect("the restarted server answers");
        let active = status == 200 && body["token_status"] == "ACTIVE";
        let refused = status == 401
            && body["detail"]
                .as_str()
                .is_some_and(|d| d.ends_with("expired or revoked."));
        let ok = match k.expect {
            Expect::Active => active,
            Expect::Revoked => refused,
            Expect::Either => active || refused,
        };
        assert!(
            ok,
            "{} of a token expected {:?}: {status} {body}",
            k.op, k.expect
        );
    }
    known.len()
}

fn integrity(db: &std::path::Path) {
    let conn = rusqlite::Connection::open(db).expect("open the database after the kill");
    let result: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .expect("integrity_check");
    assert_eq!(result, "ok", "the database is damaged");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_under_writes_loses_nothing_acknowledged() {
    let kills: usize = std::env::var("CRASH_KILLS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20);
    let seed: u64 = std::env::var("CRASH_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(1, |d| d.as_secs() ^ u64::from(d.subsec_nanos()) << 32)
        });
    // Printed first, so that a failure's output says how to repeat it.
    eprintln!("crash loop: {kills} kills, CRASH_SEED={seed}");
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("crash.db");
    let mut rng = Rng(seed | 1);
    let mut all = Vec::new();
    let mut server = Server::start(&db);
    for round in 0..kills {
        let acked = Arc::new(AtomicUsize::new(0));
        let clients: Vec<_> = (0..CLIENTS)
            .map(|c| {
                let name = format!("r{round}c{c}");
                let seed = rng.below(u64::MAX);
                tokio::spawn(client(server.base.clone(), seed, name, Arc::clone(&acked)))
            })
            .collect();
        // However slow the machine, every round kills the server under acknowledged writes:
        // once the clients have had one change each acknowledged, at a random moment in the
        // next 150 ms.
        let waited = std::time::Instant::now();
        while acked.load(Ordering::SeqCst) < CLIENTS {
            assert!(
                waited.elapsed() < Duration::from_secs(60),
                "round {round}: the clients got nothing acknowledged in a minute (CRASH_SEED={seed})"
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        tokio::time::sleep(Duration::from_millis(rng.below(150))).await;
        server.kill();
        let mut round_known = Vec::new();
        for c in clients {
            round_known.extend(c.await.expect("client task"));
        }
        integrity(&db);
        server = Server::start(&db);
        verify(&server.base, &round_known).await;
        all.extend(round_known);
    }
    // A later crash must not have undone an earlier round's changes either.
    let checked = verify(&server.base, &all).await;
    server.kill();
    integrity(&db);
    eprintln!("crash loop: {kills} kills, {checked} acknowledged tokens checked, integrity ok");
}
