//! The dashboard's pages and assets, compiled into the binary (no build step, no files to
//! deploy beside it), and the OpenAPI description of the API. Every page is the same shell;
//! the script draws the view its path names from the API. Pages forbid inline scripts, framing
//! and other origins, so text from providers can only ever be shown, never run.

use axum::Router;
use axum::http::{HeaderValue, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;

use super::Shared;

const INDEX: &str = include_str!("assets/index.html");
const SCRIPT: &str = include_str!("assets/app.js");
const STYLE: &str = include_str!("assets/style.css");
const OPENAPI: &str = include_str!("assets/openapi.json");
const LOGIN: &str = include_str!("assets/login.html");

const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; media-src 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

pub fn routes(router: Router<Shared>) -> Router<Shared> {
    router
        .route("/", get(shell))
        .route("/executions/{id}", get(shell))
        .route("/approve/{id}", get(shell))
        .route("/shows", get(shell))
        .route(
            "/assets/app.js",
            get(|| asset(SCRIPT, "text/javascript; charset=utf-8")),
        )
        .route(
            "/assets/style.css",
            get(|| asset(STYLE, "text/css; charset=utf-8")),
        )
}

async fn shell() -> Response {
    let mut response = Html(INDEX).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    response
}

async fn asset(body: &'static str, media_type: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, media_type),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        body,
    )
        .into_response()
}

/// The login page, asking for the token, or saying the last one was wrong.
pub fn login_page(refused: bool) -> String {
    let (class, message) = if refused {
        ("problem", "That is not the server's token.")
    } else {
        ("muted", "This server needs its API token.")
    };
    LOGIN
        .replace("{{class}}", class)
        .replace("{{message}}", message)
}

/// `GET /api/openapi.json`.
pub async fn openapi() -> Response {
    asset(OPENAPI, "application/json").await
}
