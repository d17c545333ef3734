//! Closing a connection without answering, which no response can express: every accepted
//! connection carries a `Sever` switch, handed to its requests as an extension. Once thrown,
//! the connection's reads and writes fail (so no byte of any answer leaves, over HTTP/1.1 or
//! HTTP/2, in TLS or not) and the request's service answers an error, on which the server
//! drops the connection. The client sees the connection close with no response.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::http::{Request, Response};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// One connection's switch. Nothing needs waking when it is thrown: the request's service
/// then answers an error, on which HTTP/1.1 closes the connection and HTTP/2 writes a reset,
/// which fails.
#[derive(Clone, Default)]
pub struct Sever(Arc<AtomicBool>);

impl Sever {
    /// Cuts the connection: nothing more is read or written on it.
    pub fn sever(&self) {
        self.0.store(true, Ordering::Release);
    }

    fn thrown(&self) -> bool {
        self.0.load(Ordering::Acquire)
    }

    fn refused() -> io::Error {
        io::Error::new(io::ErrorKind::ConnectionAborted, "connection severed by a fault rule")
    }
}

/// Accepts connections with a switch each (`axum_server`'s acceptor hook; TLS wraps it).
#[derive(Clone, Copy, Default)]
pub struct SeverAcceptor;

impl<I, S> axum_server::accept::Accept<I, S> for SeverAcceptor {
    type Stream = Severable<I>;
    type Service = Severing<S>;
    type Future = std::future::Ready<io::Result<(Self::Stream, Self::Service)>>;

    fn accept(&self, stream: I, service: S) -> Self::Future {
        let sever = Sever::default();
        std::future::ready(Ok((Severable { inner: stream, sever: sever.clone() }, Severing { inner: service, sever })))
    }
}

/// A connection's byte stream, dead once its switch is thrown.
pub struct Severable<I> {
    inner: I,
    sever: Sever,
}

impl<I: AsyncRead + Unpin> AsyncRead for Severable<I> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        if self.sever.thrown() {
            return Poll::Ready(Err(Sever::refused()));
        }
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<I: AsyncWrite + Unpin> AsyncWrite for Severable<I> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        if self.sever.thrown() {
            return Poll::Ready(Err(Sever::refused()));
        }
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if self.sever.thrown() {
            return Poll::Ready(Err(Sever::refused()));
        }
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// A connection's service: hands each request the switch, and turns an answer given after
/// the switch was thrown into an error, on which the server closes the connection instead of
/// writing it.
#[derive(Clone)]
pub struct Severing<S> {
    inner: S,
    sever: Sever,
}

#[derive(Debug, thiserror::Error)]
#[error("connection severed by a fault rule")]
struct Severed;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

impl<S, B, R> tower_service::Service<Request<B>> for Severing<S>
where
    S: tower_service::Service<Request<B>, Response = Response<R>>,
    S::Error: Into<BoxError>,
    S::Future: Send + 'static,
{
    type Response = Response<R>;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<Response<R>, BoxError>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, mut request: Request<B>) -> Self::Future {
        request.extensions_mut().insert(self.sever.clone());
        let answer = self.inner.call(request);
        let sever = self.sever.clone();
        Box::pin(async move {
            let response = answer.await.map_err(Into::into)?;
            if sever.thrown() {
                return Err(Severed.into());
            }
            Ok(response)
        })
    }
}
