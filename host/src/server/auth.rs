//! Who may use the server. On loopback with no token, everyone on this machine (as with the
//! CLI), but only through a loopback host name, which keeps a web page's DNS rebinding out. On
//! any other address, the API token: as a bearer header, or a login that sets an `HttpOnly;
//! SameSite=Strict` session cookie. An approval link carries a signed, expiring grant that
//! opens one execution's approval and nothing else. Requests that change state must come from
//! the server's own pages or from a client that is not a browser (cross-site ones are refused).

use std::path::Path as FilePath;

use axum::extract::{Form, Request, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Redirect, Response};
use hmac::{Hmac, Mac};
use serde::Deserialize;
use sha2::Sha256;
use subtle::ConstantTimeEq;

use super::Shared;
use super::error::ApiError;

/// The session cookie's name.
const SESSION_COOKIE: &str = "host_session";

/// How long an approval link opens its page.
pub const APPROVAL_LINK_TTL_MS: i64 = 7 * 24 * 3600 * 1000;

/// The token and the key that signs sessions and approval links.
pub struct Auth {
    token: Option<String>,
    key: [u8; 32],
}

impl Auth {
    pub fn new(token: Option<String>, key: [u8; 32]) -> Auth {
        Auth { token, key }
    }

    fn sign(&self, message: &str) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.key).expect("HMAC takes any key length");
        mac.update(message.as_bytes());
        hex::encode(mac.finalize().into_bytes())
    }

    /// The session cookie's value: changes when the token does, so a new token logs everyone out.
    fn session(&self) -> Option<String> {
        self.token
            .as_ref()
            .map(|token| self.sign(&format!("session:{token}")))
    }

    /// A grant opening the approval of `execution_id` until `expires_at_ms`.
    pub fn approval_grant(&self, execution_id: &str, expires_at_ms: i64) -> String {
        let signature = self.sign(&format!("approve:{execution_id}:{expires_at_ms}"));
        format!("{expires_at_ms}.{signature}")
    }

    fn grant_opens(&self, grant: &str, execution_id: &str, now_ms: i64) -> bool {
        let Some((expires, _)) = grant.split_once('.') else {
            return false;
        };
        let Ok(expires_at_ms) = expires.parse::<i64>() else {
            return false;
        };
        expires_at_ms > now_ms && equal(grant, &self.approval_grant(execution_id, expires_at_ms))
    }
}

fn equal(given: &str, expected: &str) -> bool {
    given.as_bytes().ct_eq(expected.as_bytes()).into()
}

/// The key in `<data-dir>/server.key`, created (readable by its owner only) on first use, so
/// links and sessions outlive a restart.
pub fn signing_key(path: &FilePath) -> std::io::Result<[u8; 32]> {
    use std::io::{Read as _, Write as _};
    if let Ok(bytes) = std::fs::read(path)
        && let Ok(key) = <[u8; 32]>::try_from(bytes.as_slice())
    {
        return Ok(key);
    }
    let mut key = [0u8; 32];
    std::fs::File::open("/dev/urandom")?.read_exact(&mut key)?;
    let mut file = crate::settings::open_private(path, crate::settings::Existing::Replace)?;
    file.write_all(&key)?;
    file.sync_all()?;
    Ok(key)
}

/// Paths anyone may load: the login page, the pages' assets, and the approval page (which
/// loads nothing without its grant).
fn is_public(path: &str) -> bool {
    path == "/login" || path.starts_with("/assets/") || path.starts_with("/approve/")
}

/// What an approval grant may reach: the execution's report, history, events, published files
/// and its decisions.
fn granted_execution(path: &str) -> Option<&str> {
    let rest = path.strip_prefix("/api/executions/")?;
    let (id, tail) = rest.split_once('/').unwrap_or((rest, ""));
    let allowed = ["", "history", "events", "approve", "reject", "revise"];
    (allowed.contains(&tail) || tail.starts_with("artifacts/")).then_some(id)
}

/// The middleware in front of every route.
pub async fn guard(State(shared): State<Shared>, request: Request, next: Next) -> Response {
    match check(&shared, &request) {
        Ok(()) => next.run(request).await,
        Err(Refusal::Api(error)) => error.into_response(),
        Err(Refusal::LogInFirst) => Redirect::to("/login").into_response(),
    }
}

/// Why a request goes no further.
enum Refusal {
    Api(ApiError),
    /// A page asked for without a session: the login page first.
    LogInFirst,
}

fn check(shared: &Shared, request: &Request) -> Result<(), Refusal> {
    let headers = request.headers();
    let path = request.uri().path();
    if shared.auth.token.is_none() && !loopback_host(headers) {
        return Err(Refusal::Api(ApiError::forbidden(
            "this server listens on loopback only: reach it as localhost or 127.0.0.1",
        )));
    }
    if changes_state(request.method()) && cross_site(headers) {
        return Err(Refusal::Api(ApiError::forbidden(
            "cross-site request refused: changes come from this server's pages or a script",
        )));
    }
    let Some(token) = &shared.auth.token else {
        return Ok(());
    };
    if is_public(path) {
        return Ok(());
    }
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "));
    if bearer.is_some_and(|given| equal(given.trim(), token)) {
        return Ok(());
    }
    let session = shared.auth.session().unwrap_or_default();
    if cookie(headers, SESSION_COOKIE).is_some_and(|given| equal(given, &session)) {
        return Ok(());
    }
    if let Some(id) = granted_execution(path) {
        let grant = headers
            .get("x-approval-grant")
            .and_then(|value| value.to_str().ok())
            .map(str::to_string)
            .or_else(|| query_value(request.uri().query().unwrap_or(""), "grant"));
        if grant.is_some_and(|grant| {
            shared
                .auth
                .grant_opens(&grant, id, shared.engine.clock.now_ms())
        }) {
            return Ok(());
        }
    }
    if path.starts_with("/api/") || path == "/metrics" {
        return Err(Refusal::Api(ApiError::unauthorized()));
    }
    Err(Refusal::LogInFirst)
}

fn changes_state(method: &Method) -> bool {
    !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// Whether a browser says the request comes from another site: `Sec-Fetch-Site`, or an
/// `Origin` whose host is not the one the request was sent to.
fn cross_site(headers: &HeaderMap) -> bool {
    let header = |name: &str| headers.get(name).and_then(|value| value.to_str().ok());
    if header("sec-fetch-site").is_some_and(|site| site == "cross-site" || site == "same-site") {
        return true;
    }
    match (header("origin"), header("host")) {
        (Some(origin), Some(host)) => origin
            .split_once("://")
            .is_none_or(|(_, origin_host)| origin_host != host),
        (Some(_), None) => true,
        (None, _) => false,
    }
}

fn loopback_host(headers: &HeaderMap) -> bool {
    let Some(host) = headers
        .get(header::HOST)
        .and_then(|value| value.to_str().ok())
    else {
        // HTTP/1.0 without Host: not a browser.
        return true;
    };
    let name = match host.strip_prefix('[') {
        Some(bracketed) => bracketed.split(']').next().unwrap_or(""),
        None => host.rsplit_once(':').map_or(host, |(name, _)| name),
    };
    matches!(name, "localhost" | "127.0.0.1" | "::1")
}

fn cookie<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value)
}

fn query_value(query: &str, name: &str) -> Option<String> {
    query
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value.to_string())
}

/// `GET /login`.
pub async fn login_page(State(shared): State<Shared>) -> Response {
    if shared.auth.token.is_none() {
        return Redirect::to("/").into_response();
    }
    Html(super::pages::login_page(false)).into_response()
}

#[derive(Deserialize)]
pub struct LoginForm {
    token: String,
}

/// `POST /login`: a right token sets the session cookie.
pub async fn login(State(shared): State<Shared>, Form(form): Form<LoginForm>) -> Response {
    let (Some(token), Some(session)) = (&shared.auth.token, shared.auth.session()) else {
        return Redirect::to("/").into_response();
    };
    if !equal(form.token.trim(), token) {
        return (
            StatusCode::UNAUTHORIZED,
            Html(super::pages::login_page(true)),
        )
            .into_response();
    }
    let cookie =
        format!("{SESSION_COOKIE}={session}; HttpOnly; SameSite=Strict; Path=/; Max-Age=2592000");
    let mut response = Redirect::to("/").into_response();
    if let Ok(value) = cookie.parse() {
        response.headers_mut().insert(header::SET_COOKIE, value);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::{Auth, granted_execution};

    #[test]
    fn a_grant_opens_its_execution_until_it_expires() {
        let auth = Auth::new(Some("token".into()), [7; 32]);
        let grant = auth.approval_grant("episode-1", 1_000);
        assert!(auth.grant_opens(&grant, "episode-1", 999));
        assert!(!auth.grant_opens(&grant, "episode-1", 1_000));
        assert!(!auth.grant_opens(&grant, "episode-2", 999));
        let forged = grant.replacen("1000", "9000", 1);
        assert!(!auth.grant_opens(&forged, "episode-1", 999));
    }

    #[test]
    fn a_grant_reaches_only_the_approval_of_its_execution() {
        assert_eq!(granted_execution("/api/executions/e1"), Some("e1"));
        assert_eq!(granted_execution("/api/executions/e1/approve"), Some("e1"));
        assert_eq!(
            granted_execution("/api/executions/e1/artifacts/cover.png"),
            Some("e1")
        );
        assert_eq!(granted_execution("/api/executions/e1/cancel"), None);
        assert_eq!(granted_execution("/api/executions"), None);
        assert_eq!(granted_execution("/api/shows"), None);
    }
}
