//! How a request reaches its handler. A POST to one of the API's six paths goes straight to
//! the policy layer and its operation; everything else (the token page, the contract, Swagger
//! UI, the control protocol, wrong methods, unknown paths) goes through the router, with the
//! same policy as a layer.
//!
//! The API is nearly all of the traffic, and the router's way cost a validation more than its
//! own work: a path lookup, a copy of the route's boxed service and of the layer's for each
//! request, three boxed futures, and the client's address in the request's extensions (a
//! map allocated for one entry). The direct way answers exactly as the router does: the same
//! policy in front of the same operation, and the `Content-Length` header set where axum
//! sets it, so even the headers' order is the same.

use std::convert::Infallible;
use std::net::IpAddr;
use std::sync::Arc;

use axum::Router;
use axum::body::HttpBody as _;
use axum::http::{HeaderValue, Method, Request, header};
use axum::response::Response;

use crate::api::Operation;
use crate::connections::{Activity, Busy};
use crate::peer::{Cidr, Peer};
use crate::state::AppState;

/// What every request on one connection needs, shared by its requests.
struct Connection {
    router: Router,
    app: Arc<AppState>,
    activity: Arc<Activity>,
    socket: IpAddr,
    trusted: Arc<Vec<Cidr>>,
}

/// The service of one connection: each request marks the connection busy while it runs and
/// carries who sent it.
pub(crate) fn service(
    router: Router,
    app: Arc<AppState>,
    activity: Arc<Activity>,
    socket: IpAddr,
    trusted: Arc<Vec<Cidr>>,
) -> impl tower::Service<
    Request<hyper::body::Incoming>,
    Response = Response,
    Error = Infallible,
    Future = impl Future<Output = Result<Response, Infallible>> + Send,
> + Clone {
    // One count shared by the connection's requests, rather than one on state every
    // connection shares.
    let connection = Arc::new(Connection {
        router,
        app,
        activity,
        socket,
        trusted,
    });
    tower::service_fn(move |request: Request<hyper::body::Incoming>| {
        let busy = Busy::begin(&connection.activity);
        let who = Peer::resolve(connection.socket, request.headers(), &connection.trusted);
        let direct = if request.method() == Method::POST {
            Operation::at(request.uri().path())
        } else {
            None
        };
        let connection = Arc::clone(&connection);
        async move {
            let response = match direct {
                // Boxed: the policy and the operation's future together are kilobytes, and
                // this future is moved a few times per request on its way into hyper's
                // dispatcher (built, put into the service's `Oneshot`, then into hyper's
                // slot); a box is one allocation and one copy instead. In the profile the
                // copies were the server's largest cost of its own, 5 % of its time.
                Some(op) => Box::pin(run(&connection.app, op, who, request)).await,
                None => {
                    let mut request = request;
                    request.extensions_mut().insert(who);
                    tower::ServiceExt::oneshot(connection.router.clone(), request)
                        .await
                        .unwrap_or_else(|never| match never {})
                }
            };
            drop(busy);
            Ok(response)
        }
    })
}

/// `op` for `request` from `who`, behind the policy, as the router would answer it.
async fn run(
    app: &AppState,
    op: Operation,
    who: Peer,
    request: Request<hyper::body::Incoming>,
) -> Response {
    let mut response =
        crate::policy::guard(app, Some(who), request, |r| op.run(app, Some(who), r)).await;
    content_length(&mut response);
    response
}

/// What axum's router does last to every answer: a `Content-Length` when the body's size is
/// known and none is set.
fn content_length(response: &mut Response) {
    if response.headers().contains_key(header::CONTENT_LENGTH) {
        return;
    }
    if let Some(size) = response.body().size_hint().exact() {
        response
            .headers_mut()
            .insert(header::CONTENT_LENGTH, HeaderValue::from(size));
    }
}
