//! The accept loop and the life of one connection (DESIGN §10): a limit on open connections
//! per client address, hyper's builder with a timer (request heads must arrive within the
//! header timeout; HTTP/2 streams and header lists are bounded) and a watchdog that closes a
//! connection that sits idle, or never starts a request.
//!
//! [`Door::serve`] takes any byte stream, so a TLS acceptor can wrap the accepted TCP
//! stream and hand the result on; [`Door::admit`] is the per-address check it makes first.

use std::collections::HashMap;
use std::convert::Infallible;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use http::{Request, Response};
use hyper::body::Incoming;
use hyper::rt::{Read, Write};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::time::Instant;

use crate::Body;
use crate::tls::GatewayTls;

/// The limits of one connection and of each client address.
#[derive(Debug, Clone)]
pub(crate) struct ConnectionLimits {
    /// A request head (and a new connection's first one) must arrive within this.
    pub(crate) header_timeout: Duration,
    /// A connection with nothing in flight for this long is closed.
    pub(crate) idle_timeout: Duration,
    /// Open connections per client address (0: no limit).
    pub(crate) per_ip: usize,
    /// Streams one HTTP/2 connection may have open at once.
    pub(crate) h2_max_streams: u32,
    /// Largest HTTP/2 header list (decoded) of one request.
    pub(crate) h2_max_header_list: u32,
}

/// Open connections by client address.
#[derive(Debug, Default)]
struct PerIp {
    open: Mutex<HashMap<IpAddr, usize>>,
}

/// One admitted connection's place in its address's count, given back on drop.
#[derive(Debug)]
pub(crate) struct Admitted {
    table: Arc<PerIp>,
    ip: IpAddr,
}

impl Drop for Admitted {
    fn drop(&mut self) {
        let mut open = self.table.open.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(n) = open.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                open.remove(&self.ip);
            }
        }
    }
}

/// When a connection last did something, and whether it has requests open.
#[derive(Debug)]
struct Activity {
    born: Instant,
    /// Milliseconds after `born` of the last request start or end.
    last_ms: AtomicU64,
    open: AtomicUsize,
    served: AtomicBool,
}

impl Activity {
    fn new() -> Self {
        Self {
            born: Instant::now(),
            last_ms: AtomicU64::new(0),
            open: AtomicUsize::new(0),
            served: AtomicBool::new(false),
        }
    }

    fn touch(&self) {
        let ms = u64::try_from(self.born.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.last_ms.store(ms, Ordering::Relaxed);
    }

    /// When the connection is to be closed if nothing happens before; `None` while a
    /// request is open.
    fn deadline(&self, limits: &ConnectionLimits) -> Option<Instant> {
        if self.open.load(Ordering::Acquire) > 0 {
            return None;
        }
        let limit =
            if self.served.load(Ordering::Relaxed) { limits.idle_timeout } else { limits.header_timeout };
        Some(self.born + Duration::from_millis(self.last_ms.load(Ordering::Relaxed)) + limit)
    }
}

/// Marks a request open until its response body is gone.
#[derive(Debug)]
struct InFlightRequest(Arc<Activity>);

impl Drop for InFlightRequest {
    fn drop(&mut self) {
        self.0.touch();
        self.0.open.fetch_sub(1, Ordering::AcqRel);
    }
}

/// The connection's service: counts its requests for the watchdog.
#[derive(Debug, Clone)]
struct Tracked<S> {
    inner: S,
    activity: Arc<Activity>,
}

/// A response body that keeps its request open until it is dropped (sent or abandoned).
#[derive(Debug)]
struct Guarded {
    inner: Body,
    _open: InFlightRequest,
}

impl http_body::Body for Guarded {
    type Data = bytes::Bytes;
    type Error = tonic::Status;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        Pin::new(&mut self.inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

impl<S> hyper::service::Service<Request<Incoming>> for Tracked<S>
where
    S: hyper::service::Service<Request<Incoming>, Response = Response<Body>, Error = Infallible>,
    S::Future: Send + 'static,
{
    type Response = Response<Guarded>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response<Guarded>, Infallible>> + Send>>;

    fn call(&self, request: Request<Incoming>) -> Self::Future {
        self.activity.open.fetch_add(1, Ordering::AcqRel);
        self.activity.served.store(true, Ordering::Relaxed);
        let guard = InFlightRequest(self.activity.clone());
        let response = self.inner.call(request);
        Box::pin(async move {
            let response = response.await?;
            // The request stays open while its answer streams out.
            Ok(response.map(|inner| Guarded { inner, _open: guard }))
        })
    }
}

/// Accepts and serves connections under [`ConnectionLimits`].
#[derive(Debug)]
pub(crate) struct Door {
    builder: Arc<auto::Builder<TokioExecutor>>,
    limits: ConnectionLimits,
    per_ip: Arc<PerIp>,
    closing: watch::Sender<bool>,
}

impl Door {
    pub(crate) fn new(limits: ConnectionLimits) -> Self {
        let mut builder = auto::Builder::new(TokioExecutor::new());
        builder.http1().timer(TokioTimer::new()).header_read_timeout(limits.header_timeout);
        builder
            .http2()
            .timer(TokioTimer::new())
            .max_concurrent_streams(limits.h2_max_streams)
            .max_header_list_size(limits.h2_max_header_list)
            // Streams a client opens and resets at once (the "rapid reset" flood) are capped too.
            .max_pending_accept_reset_streams(64);
        let (closing, _) = watch::channel(false);
        Self { builder: Arc::new(builder), limits, per_ip: Arc::default(), closing }
    }

    /// A place for one more connection from `ip`, or `None` when it has its limit open.
    pub(crate) fn admit(&self, ip: IpAddr) -> Option<Admitted> {
        let mut open = self.per_ip.open.lock().unwrap_or_else(|e| e.into_inner());
        let n = open.entry(ip).or_insert(0);
        if self.limits.per_ip != 0 && *n >= self.limits.per_ip {
            return None;
        }
        *n += 1;
        Some(Admitted { table: self.per_ip.clone(), ip })
    }

    /// Accepts TCP connections until `shutdown` resolves, serving each with the service
    /// `service_for(peer)` makes; a connection past its address's limit is closed at once.
    pub(crate) async fn accept_until<S, F>(
        &self,
        listener: &TcpListener,
        service_for: F,
        tls: Option<GatewayTls>,
        shutdown: impl Future<Output = ()>,
    ) where
        F: Fn(SocketAddr) -> S,
        S: hyper::service::Service<Request<Incoming>, Response = Response<Body>, Error = Infallible>
            + Send
            + Sync
            + 'static,
        S::Future: Send + 'static,
    {
        tokio::pin!(shutdown);
        loop {
            let (stream, peer) = tokio::select! {
                accepted = listener.accept() => match accepted {
                    Ok(pair) => pair,
                    Err(e) => {
                        // Out of file descriptors and the like: back off instead of spinning.
                        tracing::warn!(error = %e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                },
                () = &mut shutdown => return,
            };
            let Some(admitted) = self.admit(peer.ip()) else {
                tracing::debug!(%peer, "connection refused: too many open from this address");
                continue;
            };
            let _ = stream.set_nodelay(true);
            let service = service_for(peer);
            match &tls {
                Some(tls) => {
                    let tls = tls.clone();
                    self.spawn_connection(admitted, async move { tls.accept(stream).await }, service)
                }
                None => self.spawn_connection(admitted, std::future::ready(Ok(stream)), service),
            }
        }
    }

    /// Serves one admitted connection in its own task once `io` is ready: a TCP stream at
    /// once, a TLS stream after its handshake, which thus holds up no one else (within the
    /// handshake bound; the connection keeps the certificate it was made with, whatever is
    /// reloaded later).
    fn spawn_connection<I, S>(
        &self,
        admitted: Admitted,
        io: impl Future<Output = std::io::Result<I>> + Send + 'static,
        service: S,
    ) where
        I: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
        S: hyper::service::Service<Request<Incoming>, Response = Response<Body>, Error = Infallible>
            + Send
            + Sync
            + 'static,
        S::Future: Send + 'static,
    {
        let builder = self.builder.clone();
        let limits = self.limits.clone();
        let closing = self.closing.subscribe();
        tokio::spawn(async move {
            let _admitted = admitted;
            match io.await {
                Ok(io) => serve_connection(&builder, TokioIo::new(io), service, &limits, closing).await,
                Err(e) => tracing::debug!(error = %e, "TLS handshake failed"),
            }
        });
    }

    /// Asks every connection to finish its requests and close, and waits up to `grace`;
    /// false when some were still open.
    pub(crate) async fn drain(self, grace: Duration) -> bool {
        let _ = self.closing.send(true);
        tokio::time::timeout(grace, self.closing.closed()).await.is_ok()
    }
}

async fn serve_connection<I, S>(
    builder: &auto::Builder<TokioExecutor>,
    io: I,
    service: S,
    limits: &ConnectionLimits,
    mut closing: watch::Receiver<bool>,
) where
    I: Read + Write + Unpin + Send + 'static,
    S: hyper::service::Service<Request<Incoming>, Response = Response<Body>, Error = Infallible>
        + Send
        + Sync
        + 'static,
    S::Future: Send + 'static,
{
    let activity = Arc::new(Activity::new());
    let service = Tracked { inner: service, activity: activity.clone() };
    let connection = builder.serve_connection_with_upgrades(io, service);
    tokio::pin!(connection);
    // Set once the connection was asked to close for idling: a peer that does not let it
    // (an HTTP/2 client that never acknowledges the GOAWAY's ping) is dropped then.
    let mut drop_at: Option<Instant> = None;
    let mut shutting_down = false;
    loop {
        // With a request open, look again an idle period later.
        let wake = match drop_at {
            Some(at) => at,
            None => activity.deadline(limits).unwrap_or_else(|| Instant::now() + limits.idle_timeout),
        };
        tokio::select! {
            result = connection.as_mut() => {
                if let Err(e) = result {
                    tracing::debug!(error = %e, "connection ended with an error");
                }
                return;
            }
            () = tokio::time::sleep_until(wake) => {
                if drop_at.is_some() {
                    return;
                }
                if activity.deadline(limits).is_some_and(|d| d <= Instant::now()) {
                    if !shutting_down {
                        connection.as_mut().graceful_shutdown();
                        shutting_down = true;
                    }
                    drop_at = Some(Instant::now() + limits.header_timeout);
                }
            }
            _ = closing.changed(), if !shutting_down => {
                connection.as_mut().graceful_shutdown();
                shutting_down = true;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(per_ip: usize) -> ConnectionLimits {
        ConnectionLimits {
            header_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
            per_ip,
            h2_max_streams: 100,
            h2_max_header_list: 16 * 1024,
        }
    }

    #[tokio::test]
    async fn each_address_has_its_own_limit_and_gets_places_back() {
        let door = Door::new(limits(2));
        let (a, b): (IpAddr, IpAddr) = ([127, 0, 0, 2].into(), [127, 0, 0, 3].into());
        let first = door.admit(a).expect("first");
        let _second = door.admit(a).expect("second");
        assert!(door.admit(a).is_none(), "a third from the same address");
        assert!(door.admit(b).is_some(), "another address");
        drop(first);
        assert!(door.admit(a).is_some(), "a place was given back");
    }

    #[tokio::test]
    async fn zero_means_no_limit() {
        let door = Door::new(limits(0));
        let ip: IpAddr = [127, 0, 0, 2].into();
        let held: Vec<_> = (0..1000).map(|_| door.admit(ip)).collect();
        assert!(held.iter().all(Option::is_some));
    }

    #[test]
    fn a_connection_with_a_request_open_has_no_deadline() {
        let activity = Activity::new();
        let limits = limits(1);
        assert_eq!(activity.deadline(&limits), Some(activity.born + limits.header_timeout));
        activity.open.fetch_add(1, Ordering::AcqRel);
        activity.served.store(true, Ordering::Relaxed);
        assert_eq!(activity.deadline(&limits), None);
        activity.open.fetch_sub(1, Ordering::AcqRel);
        let deadline = activity.deadline(&limits).expect("idle again");
        assert!(deadline >= activity.born + limits.idle_timeout);
    }
}
