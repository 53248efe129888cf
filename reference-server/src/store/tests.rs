//! The store's tests: transactions, the cache, faults and purging.

use crate::token::TokenStatus;
use time::{Duration, OffsetDateTime};

use super::database::*;
use super::types::*;
use crate::token::digest;
use std::sync::atomic::{AtomicBool, Ordering};
use time::macros::datetime;

fn store() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(&dir.path().join("t.db")).expect("open");
    (dir, store)
}

fn user(s: &Store, name: &'static str) -> i64 {
    s.write_blocking(move |tx| tx.upsert_user(name, Some("x"), false))
        .expect("user")
}

async fn user_async(s: &Store, name: &'static str) -> i64 {
    s.write(move |tx| tx.upsert_user(name, Some("x"), false))
        .await
        .expect("user")
}

#[test]
fn regeneration_revokes_old_token_and_its_access_tokens() {
    let (_dir, s) = store();
    let uid = user(&s, "a@example.com");
    let now = datetime!(2030-01-01 0:00 UTC);
    let old = s
        .write_blocking(move |tx| tx.create_refresh_token(uid, "n", &digest("r1"), now))
        .expect("create");
    assert_eq!(old.expires_at - old.created_at, Duration::days(60));
    let at = s
        .write_blocking(move |tx| tx.create_access_token(&digest("r1"), uid, &digest("a1"), now))
        .expect("db")
        .expect("active");
    let new = s
        .write_blocking(move |tx| {
            tx.regenerate_refresh_token(&digest("r1"), uid, &digest("r2"), now)
        })
        .expect("db")
        .expect("regen");
    assert_eq!(new.name, "n");
    let at_after = s
        .read(|r| r.find_access_token(&digest("a1"), uid))
        .expect("db")
        .expect("exists");
    assert_eq!(at_after.id, at.id);
    assert_eq!(at_after.status(now), TokenStatus::Revoked);
    assert_eq!(
        s.write_blocking(move |tx| {
            tx.regenerate_refresh_token(&digest("r1"), uid, &digest("r3"), now)
        })
        .expect("db"),
        Err(Refusal::ExpiredOrRevoked)
    );
}

#[test]
fn lifespan_setting_applies_to_new_tokens_only() {
    let (_dir, s) = store();
    let uid = user(&s, "a@example.com");
    let now = datetime!(2030-01-01 0:00 UTC);
    let before = s
        .write_blocking(move |tx| tx.create_refresh_token(uid, "n", &digest("r1"), now))
        .expect("c");
    s.write_blocking(|tx| tx.set_lifespan(LifespanKey::RefreshTokenDays, 180))
        .expect("set");
    let after = s
        .write_blocking(move |tx| tx.create_refresh_token(uid, "n", &digest("r2"), now))
        .expect("c");
    assert_eq!(before.expires_at - before.created_at, Duration::days(60));
    assert_eq!(after.expires_at - after.created_at, Duration::days(180));
    assert!(
        s.write_blocking(|tx| tx.set_lifespan(LifespanKey::AccessTokenHours, 0))
            .is_err()
    );
}

#[test]
fn tokens_of_another_user_are_invalid() {
    let (_dir, s) = store();
    let a = user(&s, "a@example.com");
    let b = user(&s, "b@example.com");
    let now = datetime!(2030-01-01 0:00 UTC);
    s.write_blocking(move |tx| tx.create_refresh_token(a, "n", &digest("r1"), now))
        .expect("c");
    assert!(
        s.read(|r| r.find_refresh_token(&digest("r1"), b))
            .expect("db")
            .is_none()
    );
    assert_eq!(
        s.write_blocking(move |tx| tx.create_access_token(&digest("r1"), b, &digest("a1"), now))
            .expect("db"),
        Err(Refusal::Invalid)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_writes_commit_together_and_a_failing_one_undoes_only_itself() {
    let (_dir, s) = store();
    let s = std::sync::Arc::new(s);
    let uid = user_async(&s, "a@example.com").await;
    let now = datetime!(2030-01-01 0:00 UTC);
    let mut tasks = Vec::new();
    for i in 0..200u32 {
        let s = std::sync::Arc::clone(&s);
        tasks.push(tokio::spawn(async move {
            s.write(move |tx| {
                let row = tx.create_refresh_token(uid, "n", &digest(&format!("t{i}")), now)?;
                if i % 10 == 0 {
                    // Fails after its insert: the savepoint takes the insert back.
                    return Err(StoreError::Internal("refused".into()));
                }
                Ok(row)
            })
            .await
        }));
    }
    let mut ok = 0;
    for t in tasks {
        ok += usize::from(t.await.expect("join").is_ok());
    }
    assert_eq!(ok, 180);
    let (refresh, _) = s.read(|r| r.count_active(now)).expect("count");
    assert_eq!(refresh, 180, "the failing operations kept nothing");
}

#[tokio::test]
async fn a_full_disk_is_unavailable_and_the_store_recovers() {
    let (_dir, s) = store();
    let uid = user_async(&s, "a@example.com").await;
    let now = datetime!(2030-01-01 0:00 UTC);
    let pages: i64 = s.read(|r| r.page_count()).expect("pages");
    s.configure(&format!("PRAGMA max_page_count = {pages}"))
        .await
        .expect("pragma");
    let mut saw_full = false;
    for i in 0..200 {
        let name = "n".repeat(200);
        match s
            .write(move |tx| tx.create_refresh_token(uid, &name, &digest(&format!("f{i}")), now))
            .await
        {
            Err(StoreError::Unavailable(_)) => {
                saw_full = true;
                break;
            }
            Err(e) => panic!("{e}"),
            Ok(_) => {}
        }
    }
    assert!(saw_full, "the disk never filled");
    s.configure("PRAGMA max_page_count = 1073741823")
        .await
        .expect("pragma");
    s.write(move |tx| tx.create_refresh_token(uid, "after", &digest("after"), now))
        .await
        .expect("recovers once there is room");
}

#[tokio::test]
async fn purge_deletes_what_died_before_the_cutoff() {
    let (_dir, s) = store();
    let uid = user_async(&s, "a@example.com").await;
    let t0 = datetime!(2030-01-01 0:00 UTC);
    for (name, at) in [("old", t0), ("new", t0 + Duration::days(100))] {
        s.write(move |tx| {
            tx.create_refresh_token(uid, name, &digest(name), at)?;
            tx.create_access_token(&digest(name), uid, &digest(&format!("{name}-a")), at)?
                .ok();
            Ok(())
        })
        .await
        .expect("create");
    }
    // An access token that outlives its refresh token (a lifespan of 200 days).
    s.write(move |tx| {
        tx.set_lifespan(LifespanKey::AccessTokenHours, 24 * 200)?;
        tx.create_refresh_token(uid, "parent", &digest("parent"), t0)?;
        tx.create_access_token(&digest("parent"), uid, &digest("long"), t0)?
            .ok();
        Ok(())
    })
    .await
    .expect("create");
    // The old refresh token expired at t0 + 60d, its access token at t0 + 1d; the new one
    // lives, and so does the long access token, which keeps its expired parent.
    let (refresh, access) = s.purge(t0 + Duration::days(95)).await.expect("purge");
    assert_eq!((refresh, access), (1, 1));
    assert!(
        s.read(|r| r.find_refresh_token(&digest("new"), uid))
            .expect("db")
            .is_some()
    );
    assert!(
        s.read(|r| r.find_access_token(&digest("long"), uid))
            .expect("db")
            .is_some(),
        "a live access token is never purged"
    );
    // Once it has died too, both go (and by then "new" and its access token have died too).
    assert_eq!(
        s.purge(t0 + Duration::days(201)).await.expect("purge"),
        (2, 2)
    );
}

/// Every way a live access token dies reaches the cache before the answer that killed it:
/// validated (so kept), then revoked, regenerated away, or revoked with its refresh token,
/// it is never found active again.
#[tokio::test]
async fn the_cache_never_outlives_a_revocation() {
    let (_dir, s) = store();
    let uid = user_async(&s, "a@example.com").await;
    let now = OffsetDateTime::now_utc();
    let mint = |refresh: &'static str, access: &'static str| {
        s.write(move |tx| tx.create_access_token(&digest(refresh), uid, &digest(access), now))
    };
    let active = |access: &'static str| {
        s.access_token(&digest(access), uid, now)
            .expect("db")
            .is_some_and(|r| r.status(now) == TokenStatus::Active)
    };
    for name in ["r1", "r2", "r3"] {
        s.write(move |tx| tx.create_refresh_token(uid, name, &digest(name), now))
            .await
            .expect("refresh");
    }
    let _ = mint("r1", "a1").await.expect("mint");
    assert!(active("a1") && active("a1"), "found, then kept");
    s.write(move |tx| tx.revoke_access_tokens(&digest("r1"), uid, now))
        .await
        .expect("revoke")
        .expect("active refresh token");
    assert!(!active("a1"), "revoked");

    let _ = mint("r2", "a2").await.expect("mint");
    assert!(active("a2"));
    s.write(move |tx| tx.regenerate_refresh_token(&digest("r2"), uid, &digest("r2b"), now))
        .await
        .expect("regen")
        .expect("active refresh token");
    assert!(!active("a2"), "regenerated away");

    let _ = mint("r3", "a3").await.expect("mint");
    assert!(active("a3"));
    s.write(move |tx| tx.revoke_refresh_token(&digest("r3"), now))
        .await
        .expect("admin revoke");
    assert!(!active("a3"), "revoked with its refresh token");
}

/// Validations racing a revocation: once the revocation has answered, no validation that
/// starts after it finds the token active.
#[test]
fn validations_racing_a_revocation_never_see_it_undone() {
    let (_dir, s) = store();
    let uid = user(&s, "a@example.com");
    let now = OffsetDateTime::now_utc();
    for round in 0..50 {
        let (refresh, access) = (format!("r{round}"), format!("a{round}"));
        let (r, a) = (digest(&refresh), digest(&access));
        s.write_blocking(move |tx| {
            tx.create_refresh_token(uid, "n", &r, now)?;
            tx.create_access_token(&r, uid, &a, now)?.ok();
            Ok(())
        })
        .expect("tokens");
        let revoked = AtomicBool::new(false);
        std::thread::scope(|scope| {
            for _ in 0..4 {
                // Each reader goes on until it has read 20 times after the revocation
                // answered, so every round checks something, however the threads run.
                scope.spawn(|| {
                    let (mut before, mut after_reads) = (0_u32, 0_u32);
                    while after_reads < 20 {
                        let after = revoked.load(Ordering::SeqCst);
                        let row = s.access_token(&a, uid, now).expect("db").expect("row");
                        if after {
                            assert_ne!(row.status(now), TokenStatus::Active, "round {round}");
                            after_reads += 1;
                        } else {
                            before += 1;
                            assert!(before < 1_000_000, "the revocation never answered");
                        }
                    }
                });
            }
            s.write_blocking(move |tx| tx.revoke_access_tokens(&r, uid, now))
                .expect("revoke")
                .expect("active");
            revoked.store(true, Ordering::SeqCst);
        });
    }
}

/// The database holds password hashes and token digests: only its owner may read it, and its
/// WAL and shared-memory files (which SQLite creates with the database's own mode) too.
#[cfg(unix)]
#[test]
fn the_database_and_its_wal_and_shm_are_private() {
    use std::os::unix::fs::PermissionsExt as _;
    let (dir, s) = store();
    user(&s, "a@example.com");
    for name in ["t.db", "t.db-wal", "t.db-shm"] {
        let mode = std::fs::metadata(dir.path().join(name))
            .expect(name)
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "{name} is {:o}", mode & 0o777);
    }
    assert_eq!(readable_by_others(&dir.path().join("t.db")), Some(false));
}

/// A database made before (or by someone else) that others may read is named at start.
#[cfg(unix)]
#[test]
fn an_existing_database_others_may_read_is_found() {
    use std::os::unix::fs::PermissionsExt as _;
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("old.db");
    std::fs::write(&path, b"").expect("file");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    assert_eq!(readable_by_others(&path), Some(true));
    drop(Store::open(&path).expect("open"));
    let mode = std::fs::metadata(&path).expect("db").permissions().mode();
    assert_eq!(
        mode & 0o777,
        0o644,
        "an existing file's mode is its owner's choice"
    );
}
