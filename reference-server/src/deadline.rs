//! A deadline on work that usually needs none: the policy's request timeout and the body's
//! read timeout share it (a module of its own, so neither imports the other).

use std::pin::Pin;
use std::task::Poll;
use std::time::Duration;

/// `work`'s outcome, or `None` if it takes longer than `limit`.
///
/// Work that is done at its first poll gets no timer: a body that arrived with its head, a
/// handler that answers from memory, which is nearly every request. A tokio timer costs a
/// clock read when made and a lock shared by the whole runtime when dropped, armed or not;
/// work that has to wait is given the whole `limit` from that first poll on.
///
/// `work` is pinned by the caller, where it lives: a future taken by value would be held
/// twice in this one's state (as the argument and as the pinned local), and the request's
/// future, which holds this one, is copied a few times per request.
pub(crate) async fn within<F: Future>(limit: Duration, mut work: Pin<&mut F>) -> Option<F::Output> {
    let first = std::future::poll_fn(|cx| Poll::Ready(work.as_mut().poll(cx))).await;
    match first {
        Poll::Ready(out) => Some(out),
        Poll::Pending => tokio::time::timeout(limit, work).await.ok(),
    }
}
