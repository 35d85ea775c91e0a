//! Outgoing HTTP for plugins: the [`Origin`]s a plugin may reach (`scheme://host[:port]`, as
//! granted in `config.toml` or a workflow; parsed in `pipeline-core` so that validation refuses
//! the same entries), and the [`NetworkGate`], the wasi-http hook that
//! every request a plugin sends goes through. A request to an origin outside the grant is
//! refused with `HttpRequestDenied` and remembered, so the host can report the call as a
//! permanent error naming what was refused; a granted request is sent with its timeouts capped
//! at what is left of the call's deadline.

use std::time::Instant;

use http_body_util::BodyExt;
use pipeline_core::origin::default_port;
pub use pipeline_core::origin::{InvalidOrigin, Origin};
use wasmtime_wasi_http::{Error as HttpError, RequestOptions, WasiBody, WasiHttpHooks};

/// The origin a request is addressed to; `None` when its URI names no scheme or host.
fn origin_of_request(uri: &http::Uri) -> Option<Origin> {
    let https = match uri.scheme_str()? {
        "https" => true,
        "http" => false,
        _ => return None,
    };
    Some(Origin::new(
        https,
        uri.host()?,
        uri.port_u16().unwrap_or(default_port(https)),
    ))
}

/// The wasi-http hooks of one call: checks each request against the plugin's grant and
/// remembers what it refused.
pub(crate) struct NetworkGate {
    plugin: String,
    allowed: Vec<Origin>,
    /// The call's deadline; no request may wait on the network past it.
    deadline: Instant,
    /// Origins refused during this call, each once, in order.
    pub(crate) refused: Vec<String>,
}

impl NetworkGate {
    pub(crate) fn new(plugin: &str, allowed: &[Origin], deadline: Instant) -> NetworkGate {
        NetworkGate {
            plugin: plugin.to_string(),
            allowed: allowed.to_vec(),
            deadline,
            refused: Vec::new(),
        }
    }
}

type SendFuture = Box<
    dyn Future<
            Output = wasmtime_wasi_http::Result<(
                http::Response<WasiBody>,
                Box<dyn Future<Output = wasmtime_wasi_http::Result<()>> + Send>,
            )>,
        > + Send,
>;

impl WasiHttpHooks for NetworkGate {
    fn send_request(
        &mut self,
        request: http::Request<WasiBody>,
        options: Option<RequestOptions>,
        _request_error: Box<dyn Future<Output = wasmtime_wasi_http::Result<()>> + Send>,
    ) -> SendFuture {
        let origin = origin_of_request(request.uri());
        let granted = origin
            .as_ref()
            .is_some_and(|origin| self.allowed.contains(origin));
        if !granted {
            // Only the origin is kept: a path or query may carry a secret.
            let refused = match &origin {
                Some(origin) => origin.to_string(),
                None => "an address with no http or https origin".to_string(),
            };
            tracing::warn!(plugin = %self.plugin, origin = %refused, "refused an HTTP request outside the plugin's grant");
            if !self.refused.contains(&refused) {
                self.refused.push(refused);
            }
            return Box::new(async move {
                // The guest may still be writing the body (wstd sends it after the head,
                // chunked). Reading it to the end lets the guest finish writing and then see
                // the denial; dropping it unread would break its stream, and the guest would
                // report a reset connection instead of the refusal.
                let mut body = request.into_body();
                while let Some(Ok(_)) = body.frame().await {}
                Err(HttpError::HttpRequestDenied)
            });
        }
        // wasmtime waits 600 s by default for each phase; a call must not outlive its deadline
        // because a server is slow, so every phase is capped at what is left of it.
        let remaining = self.deadline.saturating_duration_since(Instant::now());
        let options = options.unwrap_or_default();
        let cap = |requested: Option<std::time::Duration>| {
            Some(requested.map_or(remaining, |requested| requested.min(remaining)))
        };
        let options = RequestOptions {
            connect_timeout: cap(options.connect_timeout),
            first_byte_timeout: cap(options.first_byte_timeout),
            between_bytes_timeout: cap(options.between_bytes_timeout),
        };
        let request = request.map(|body| DrainOnDrop(Some(body)));
        Box::new(async move {
            let (response, connection) =
                wasmtime_wasi_http::default_send_request(request, Some(options)).await?;
            Ok((
                response.map(BodyExt::boxed_unsync),
                Box::new(connection) as Box<dyn Future<Output = _> + Send>,
            ))
        })
    }
}

/// A request body that, when dropped before its end (the server answered without reading it,
/// or the request carried no body headers), keeps reading it in the background. The guest
/// writes the body while the request is in flight; with the body gone it would get a broken
/// stream and report a reset connection instead of the server's answer. The drain ends when
/// the guest finishes the body or its store is dropped.
struct DrainOnDrop(Option<WasiBody>);

impl http_body::Body for DrainOnDrop {
    type Data = bytes::Bytes;
    type Error = HttpError;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        context: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        match self.0.as_mut() {
            Some(body) => std::pin::Pin::new(body).poll_frame(context),
            None => std::task::Poll::Ready(None),
        }
    }

    fn is_end_stream(&self) -> bool {
        self.0.as_ref().is_none_or(http_body::Body::is_end_stream)
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.0.as_ref().map_or_else(
            || http_body::SizeHint::with_exact(0),
            http_body::Body::size_hint,
        )
    }
}

impl Drop for DrainOnDrop {
    fn drop(&mut self) {
        let Some(mut body) = self.0.take() else {
            return;
        };
        if http_body::Body::is_end_stream(&body) {
            return;
        }
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move { while let Some(Ok(_)) = body.frame().await {} });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_match_scheme_host_and_port() {
        let granted = Origin::parse("http://127.0.0.1:8080").unwrap();
        let origin = |uri: &str| origin_of_request(&uri.parse().unwrap());
        assert_eq!(
            origin("http://127.0.0.1:8080/v1/chat"),
            Some(granted.clone())
        );
        assert_ne!(origin("https://127.0.0.1:8080/"), Some(granted.clone()));
        assert_ne!(origin("http://127.0.0.1:8081/"), Some(granted.clone()));
        assert_ne!(origin("http://localhost:8080/"), Some(granted));
        assert_eq!(
            origin("https://API.openai.com/v1"),
            Some(Origin::parse("https://api.openai.com:443").unwrap())
        );
    }
}
