//! One HTTP exchange with a provider. The plugins' logic talks to a [`Transport`], so it is
//! unit-tested natively with scripted answers; inside the sandbox [`WasiHttp`] sends the request
//! through the host's wasi-http, which decides whether the plugin may reach that origin.

use crate::error;
use crate::types::{ErrorKind, ProviderError};

/// A request to a provider.
#[derive(Debug, Clone, PartialEq)]
pub struct HttpRequest {
    pub method: Method,
    pub url: String,
    /// Header names and values; secrets may be among them, so a request is never logged.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Get,
    Post,
}

impl HttpRequest {
    pub fn get(url: impl Into<String>) -> HttpRequest {
        HttpRequest {
            method: Method::Get,
            url: url.into(),
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    /// A POST of a JSON document.
    pub fn post_json(url: impl Into<String>, body: &serde_json::Value) -> HttpRequest {
        HttpRequest {
            method: Method::Post,
            url: url.into(),
            headers: vec![("Content-Type".into(), "application/json".into())],
            body: body.to_string().into_bytes(),
        }
    }

    pub fn header(mut self, name: &str, value: impl Into<String>) -> HttpRequest {
        self.headers.push((name.to_string(), value.into()));
        self
    }
}

/// A provider's answer, whatever its status.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct HttpResponse {
    pub status: u16,
    /// Header names in lower case.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl HttpResponse {
    /// The first header of that name (given in lower case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }
}

/// Sends one request and waits for the whole answer. Failures to get an answer at all
/// (refused connection, timeout, request denied by the host) are already provider errors.
pub trait Transport {
    fn send(&self, request: HttpRequest) -> Result<HttpResponse, ProviderError>;
}

/// Sends `request` and returns the answer when its status is a success; any other status
/// becomes the provider error [`error::from_status`] classifies. `provider` names the service
/// in messages ("OpenAI", "ElevenLabs").
pub fn exchange(
    transport: &dyn Transport,
    provider: &str,
    request: HttpRequest,
) -> Result<HttpResponse, ProviderError> {
    let response = transport.send(request)?;
    if (200..300).contains(&response.status) {
        return Ok(response);
    }
    let wait = error::retry_after_ms(
        response.header("retry-after"),
        response.header("retry-after-ms"),
    );
    Err(error::from_status(
        provider,
        response.status,
        wait,
        &response.body,
    ))
}

/// The body of a successful answer parsed as JSON, or a malformed-response error.
pub fn json_body(
    provider: &str,
    response: &HttpResponse,
) -> Result<serde_json::Value, ProviderError> {
    serde_json::from_slice(&response.body)
        .map_err(|parse| error::malformed(provider, format!("body is not JSON ({parse})")))
}

/// Why a request never got an answer, classified the way `error::from_status` classifies
/// statuses. The URL is named (it holds no secret); headers never are.
#[cfg(any(target_arch = "wasm32", test))]
fn transport_failure(url: &str, failure: TransportFailure) -> ProviderError {
    match failure {
        TransportFailure::Denied => error::permanent(
            ErrorKind::Unauthorized,
            format!(
                "the host refused the request to {url}: its origin is not among the plugin's allowed hosts"
            ),
        ),
        TransportFailure::TimedOut(detail) => error::retryable(
            ErrorKind::Timeout,
            format!("request to {url} timed out ({detail})"),
        ),
        TransportFailure::Unreachable(detail) => error::retryable(
            ErrorKind::Unavailable,
            format!("could not reach {url} ({detail})"),
        ),
        TransportFailure::Invalid(detail) => error::permanent(
            ErrorKind::InvalidRequest,
            format!("cannot send a request to {url} ({detail})"),
        ),
    }
}

/// What went wrong below HTTP.
#[cfg(any(target_arch = "wasm32", test))]
#[derive(Debug)]
enum TransportFailure {
    /// The host's allowlist refused the request; retrying cannot help.
    Denied,
    TimedOut(String),
    Unreachable(String),
    /// The request itself could not be built (a malformed base URL, for example).
    Invalid(String),
}

/// The transport of a plugin call: wasi-http inside the sandbox. A native build (made only
/// for unit tests, which script their transport) has no network, so every request fails.
pub fn sandbox_transport() -> impl Transport {
    #[cfg(target_arch = "wasm32")]
    return WasiHttp;
    #[cfg(not(target_arch = "wasm32"))]
    return NoNetwork;
}

/// wasi-http through `wstd`.
#[cfg(target_arch = "wasm32")]
struct WasiHttp;

#[cfg(not(target_arch = "wasm32"))]
struct NoNetwork;

#[cfg(not(target_arch = "wasm32"))]
impl Transport for NoNetwork {
    fn send(&self, request: HttpRequest) -> Result<HttpResponse, ProviderError> {
        Err(error::permanent(
            ErrorKind::Internal,
            format!(
                "cannot reach {}: wasi-http exists only inside the sandbox",
                request.url
            ),
        ))
    }
}

#[cfg(target_arch = "wasm32")]
impl Transport for WasiHttp {
    fn send(&self, request: HttpRequest) -> Result<HttpResponse, ProviderError> {
        let url = request.url.clone();
        wstd::runtime::block_on(wasi::send(request))
            .map_err(|failure| transport_failure(&url, failure))
    }
}

#[cfg(target_arch = "wasm32")]
mod wasi {
    use super::{HttpRequest, HttpResponse, Method, TransportFailure};
    use wstd::http::{Body, Client, ErrorCode, Request};

    pub(super) async fn send(request: HttpRequest) -> Result<HttpResponse, TransportFailure> {
        let mut builder =
            Request::builder()
                .uri(request.url.as_str())
                .method(match request.method {
                    Method::Get => "GET",
                    Method::Post => "POST",
                });
        for (name, value) in &request.headers {
            builder = builder.header(name.as_str(), value.as_str());
        }
        let outgoing = builder
            .body(Body::from(request.body))
            .map_err(|error| TransportFailure::Invalid(error.to_string()))?;
        let mut response = Client::new().send(outgoing).await.map_err(classify)?;
        let status = response.status().as_u16();
        let headers = response
            .headers()
            .iter()
            .map(|(name, value)| {
                (
                    name.as_str().to_ascii_lowercase(),
                    String::from_utf8_lossy(value.as_bytes()).into_owned(),
                )
            })
            .collect();
        let body = response
            .body_mut()
            .contents()
            .await
            .map_err(classify)?
            .to_vec();
        Ok(HttpResponse {
            status,
            headers,
            body,
        })
    }

    fn classify(error: wstd::http::Error) -> TransportFailure {
        let Some(code) = error.downcast_ref::<ErrorCode>() else {
            return TransportFailure::Unreachable(format!("{error:#}"));
        };
        match code {
            ErrorCode::HttpRequestDenied => TransportFailure::Denied,
            ErrorCode::DnsTimeout
            | ErrorCode::ConnectionTimeout
            | ErrorCode::ConnectionReadTimeout
            | ErrorCode::ConnectionWriteTimeout
            | ErrorCode::HttpResponseTimeout => TransportFailure::TimedOut(format!("{code:?}")),
            ErrorCode::HttpRequestUriInvalid | ErrorCode::HttpRequestMethodInvalid => {
                TransportFailure::Invalid(format!("{code:?}"))
            }
            other => TransportFailure::Unreachable(format!("{other:?}")),
        }
    }
}

/// A transport answering from a script, for the plugins' native tests.
pub mod scripted {

    use super::*;
    use std::cell::RefCell;
    use std::collections::VecDeque;

    /// Answers in order and keeps every request sent; panics when the script runs out.
    #[derive(Default)]
    pub struct Scripted {
        pub answers: RefCell<VecDeque<Result<HttpResponse, ProviderError>>>,
        pub sent: RefCell<Vec<HttpRequest>>,
    }

    impl Scripted {
        /// A transport that gives these answers in order.
        pub fn answering(answers: impl IntoIterator<Item = HttpResponse>) -> Scripted {
            Scripted {
                answers: RefCell::new(answers.into_iter().map(Ok).collect()),
                sent: RefCell::default(),
            }
        }
    }

    impl Transport for Scripted {
        fn send(&self, request: HttpRequest) -> Result<HttpResponse, ProviderError> {
            self.sent.borrow_mut().push(request);
            self.answers
                .borrow_mut()
                .pop_front()
                .expect("a scripted answer is left")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::scripted::Scripted;
    use super::*;

    #[test]
    fn non_success_statuses_become_classified_errors() {
        let transport = Scripted::default();
        transport.answers.borrow_mut().push_back(Ok(HttpResponse {
            status: 429,
            headers: vec![("retry-after".into(), "3".into())],
            body: br#"{"error":{"message":"Rate limit reached"}}"#.to_vec(),
        }));
        let error = exchange(&transport, "OpenAI", HttpRequest::get("http://x/y")).unwrap_err();
        assert!(error.retryable);
        assert_eq!(error.retry_after_ms, Some(3000));
        assert!(error.message.contains("Rate limit reached"));
    }

    #[test]
    fn transport_failures_are_classified() {
        let denied = transport_failure("http://x", TransportFailure::Denied);
        assert!(!denied.retryable);
        let slow = transport_failure(
            "http://x",
            TransportFailure::TimedOut("HttpResponseTimeout".into()),
        );
        assert!(slow.retryable);
        assert_eq!(slow.kind, ErrorKind::Timeout);
        let down = transport_failure(
            "http://x",
            TransportFailure::Unreachable("ConnectionRefused".into()),
        );
        assert!(down.retryable);
        assert_eq!(down.kind, ErrorKind::Unavailable);
        let invalid = transport_failure(
            "nope",
            TransportFailure::Invalid("HttpRequestUriInvalid".into()),
        );
        assert!(!invalid.retryable);
    }
}
