//! A scripted HTTP/1.1 server on 127.0.0.1 for tests of plugins that reach the network: each
//! route (method and path) answers from a queue of scripted responses, then from its default;
//! every request is recorded (method, path, query, headers and body, chunked or not).
//!
//! Built on `std::net` with a thread per connection, so tests need no async runtime and the
//! server is as real as the sockets: plugins reach it through the host's wasi-http exactly as
//! they would reach a provider. Each response is sent with `Connection: close`, which keeps the
//! server simple and is valid HTTP/1.1 for any client.

use std::collections::{HashMap, VecDeque};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// A request header section larger than this is refused; no test client sends one.
const MAX_HEADER_BYTES: usize = 64 * 1024;
/// How long a connection waits for the client to hang up after the answer.
const LINGER_LIMIT: Duration = Duration::from_secs(2);

/// One scripted answer.
#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// How long the server waits, after reading the whole request, before answering.
    pub delay: Duration,
}

impl Response {
    /// An empty answer with this status.
    pub fn status(status: u16) -> Response {
        Response {
            status,
            headers: Vec::new(),
            body: Vec::new(),
            delay: Duration::ZERO,
        }
    }

    /// A JSON body (`Content-Type: application/json`).
    pub fn json(status: u16, body: impl Into<String>) -> Response {
        Response::status(status)
            .header("Content-Type", "application/json")
            .body(body.into().into_bytes())
    }

    /// A plain-text body.
    pub fn text(status: u16, body: impl Into<String>) -> Response {
        Response::status(status)
            .header("Content-Type", "text/plain; charset=utf-8")
            .body(body.into().into_bytes())
    }

    /// Raw bytes with a media type, for audio and images.
    pub fn bytes(status: u16, content_type: &str, body: Vec<u8>) -> Response {
        Response::status(status)
            .header("Content-Type", content_type)
            .body(body)
    }

    pub fn header(mut self, name: &str, value: &str) -> Response {
        self.headers.push((name.to_string(), value.to_string()));
        self
    }

    pub fn body(mut self, body: Vec<u8>) -> Response {
        self.body = body;
        self
    }

    pub fn delay(mut self, delay: Duration) -> Response {
        self.delay = delay;
        self
    }
}

/// One request as the server received it.
#[derive(Debug, Clone)]
pub struct Request {
    pub method: String,
    /// The path of the request target, without the query.
    pub path: String,
    /// What followed `?` in the request target, if anything.
    pub query: Option<String>,
    /// Header names as sent, in order.
    pub headers: Vec<(String, String)>,
    /// The body with any chunked framing removed.
    pub body: Vec<u8>,
    /// Whether the body came with `Transfer-Encoding: chunked`.
    pub chunked: bool,
    /// When the server had read the whole request: what rate-limit tests measure spacing by.
    pub received_at: Instant,
}

impl Request {
    /// The first header of that name, compared without case.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }

    pub fn body_text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body parsed as JSON; panics (failing the test) when it is not.
    pub fn body_json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|error| {
            panic!("request body is not JSON ({error}): {}", self.body_text())
        })
    }
}

/// The scripted answers of one route.
#[derive(Debug, Default)]
struct Route {
    queued: VecDeque<Response>,
    default: Option<Response>,
}

#[derive(Debug, Default)]
struct Script {
    routes: HashMap<(String, String), Route>,
    requests: Vec<Request>,
    /// Requests read and not yet answered, and the most there ever were at once.
    in_flight: usize,
    most_in_flight: usize,
}

/// The running server; it stops accepting connections when dropped.
pub struct FakeHttp {
    address: SocketAddr,
    script: Arc<Mutex<Script>>,
    stopping: Arc<AtomicBool>,
}

impl FakeHttp {
    /// Starts a server on a free port of 127.0.0.1. Unscripted routes answer 404.
    pub fn start() -> FakeHttp {
        let listener = TcpListener::bind("127.0.0.1:0").expect("fake server binds");
        let address = listener.local_addr().expect("fake server address");
        let script = Arc::new(Mutex::new(Script::default()));
        let stopping = Arc::new(AtomicBool::new(false));
        let (accept_script, accept_stopping) = (script.clone(), stopping.clone());
        std::thread::Builder::new()
            .name("fake-http-accept".into())
            .spawn(move || {
                for stream in listener.incoming() {
                    if accept_stopping.load(Ordering::SeqCst) {
                        break;
                    }
                    let Ok(stream) = stream else { continue };
                    let script = accept_script.clone();
                    // A connection whose client went away (a deadline, a refused body) only
                    // ends its own thread.
                    let _ = std::thread::Builder::new()
                        .name("fake-http-connection".into())
                        .spawn(move || {
                            let _ = serve(stream, &script);
                        });
                }
            })
            .expect("fake server thread starts");
        FakeHttp {
            address,
            script,
            stopping,
        }
    }

    /// `http://127.0.0.1:<port>`, with no trailing slash.
    pub fn url(&self) -> String {
        format!("http://{}", self.address)
    }

    pub fn port(&self) -> u16 {
        self.address.port()
    }

    /// Queues answers for `method path`, used one per request in order; after them the route
    /// answers with `default` for ever.
    pub fn route(
        &self,
        method: &str,
        path: &str,
        queued: impl IntoIterator<Item = Response>,
        default: Response,
    ) {
        let mut script = self.lock();
        let route = script
            .routes
            .entry((method.to_ascii_uppercase(), path.to_string()))
            .or_default();
        route.queued.extend(queued);
        route.default = Some(default);
    }

    /// Adds one answer to the queue of `method path`, before its default.
    pub fn enqueue(&self, method: &str, path: &str, response: Response) {
        self.lock()
            .routes
            .entry((method.to_ascii_uppercase(), path.to_string()))
            .or_default()
            .queued
            .push_back(response);
    }

    /// Every request received so far, in arrival order.
    pub fn requests(&self) -> Vec<Request> {
        self.lock().requests.clone()
    }

    /// The most requests the server was answering at once (read, answer not yet sent).
    pub fn most_in_flight(&self) -> usize {
        self.lock().most_in_flight
    }

    /// The requests received for one route.
    pub fn requests_to(&self, method: &str, path: &str) -> Vec<Request> {
        self.lock()
            .requests
            .iter()
            .filter(|request| request.method.eq_ignore_ascii_case(method) && request.path == path)
            .cloned()
            .collect()
    }

    /// When the requests to `path` arrived, in order.
    pub fn arrival_times(&self, method: &str, path: &str) -> Vec<std::time::Instant> {
        let mut times: Vec<_> = self
            .requests_to(method, path)
            .iter()
            .map(|request| request.received_at)
            .collect();
        times.sort();
        times
    }

    /// Asserts that the requests to `path` kept to `per_second`: any `per_second + 1` in a row
    /// span about a second (unlimited, they arrive within milliseconds). The pacing is even;
    /// the quarter of a spacing of tolerance absorbs a call whose plugin took longer to reach
    /// the server than the next one's.
    pub fn assert_paced(&self, method: &str, path: &str, per_second: u32) {
        let spacing = std::time::Duration::from_secs(1) / per_second;
        let times = self.arrival_times(method, path);
        for window in times.windows(per_second as usize + 1) {
            let span = window[per_second as usize] - window[0];
            assert!(
                span >= spacing * (per_second - 1),
                "{} requests within {span:?}: the limit of {per_second} per second was broken",
                per_second + 1
            );
        }
    }

    fn lock(&self) -> MutexGuard<'_, Script> {
        lock(&self.script)
    }
}

impl Drop for FakeHttp {
    fn drop(&mut self) {
        self.stopping.store(true, Ordering::SeqCst);
        // Wakes the accept loop so it sees the flag and ends.
        let _ = TcpStream::connect(self.address);
    }
}

fn lock(script: &Mutex<Script>) -> MutexGuard<'_, Script> {
    // A test that panicked while holding the lock left nothing half-written worth refusing.
    script
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Reads one request, records it, answers from the script and closes the connection.
fn serve(stream: TcpStream, script: &Mutex<Script>) -> std::io::Result<()> {
    let mut writer = stream.try_clone()?;
    let mut reader = BufReader::new(stream);
    let Some((method, target, headers)) = read_head(&mut reader)? else {
        return Ok(());
    };
    let find = |name: &str| {
        headers
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.trim().to_string())
    };
    if find("Expect").is_some_and(|value| value.eq_ignore_ascii_case("100-continue")) {
        writer.write_all(b"HTTP/1.1 100 Continue\r\n\r\n")?;
    }
    let chunked = find("Transfer-Encoding").is_some_and(|value| {
        value
            .split(',')
            .any(|coding| coding.trim().eq_ignore_ascii_case("chunked"))
    });
    let body = if chunked {
        read_chunked(&mut reader)?
    } else {
        let length = match find("Content-Length") {
            Some(value) => value
                .parse::<usize>()
                .map_err(|_| invalid("bad Content-Length"))?,
            None => 0,
        };
        let mut body = vec![0; length];
        reader.read_exact(&mut body)?;
        body
    };
    let (path, query) = match target.split_once('?') {
        Some((path, query)) => (path.to_string(), Some(query.to_string())),
        None => (target, None),
    };
    let response = {
        let mut script = lock(script);
        script.requests.push(Request {
            method: method.clone(),
            path: path.clone(),
            query,
            headers,
            body,
            chunked,
            received_at: Instant::now(),
        });
        script.in_flight += 1;
        script.most_in_flight = script.most_in_flight.max(script.in_flight);
        match script
            .routes
            .get_mut(&(method.to_ascii_uppercase(), path.clone()))
        {
            Some(route) => route
                .queued
                .pop_front()
                .or_else(|| route.default.clone())
                .unwrap_or_else(|| Response::text(500, "route has no answers left")),
            None => Response::text(404, format!("no route for {method} {path}")),
        }
    };
    std::thread::sleep(response.delay);
    let written = write_response(&mut writer, &response).and_then(|()| writer.flush());
    lock(script).in_flight -= 1;
    written?;
    // Closing a socket with unread bytes in it (a client still sending a body the route did
    // not wait for) makes the kernel send a reset, which can destroy the answer before the
    // client reads it. Half-close, then read whatever is left until the client hangs up.
    writer.shutdown(std::net::Shutdown::Write)?;
    reader.get_ref().set_read_timeout(Some(LINGER_LIMIT))?;
    let _ = std::io::copy(&mut reader, &mut std::io::sink());
    Ok(())
}

/// The request line and headers, or `None` when the client closed without sending anything.
#[allow(clippy::type_complexity)]
fn read_head(
    reader: &mut BufReader<TcpStream>,
) -> std::io::Result<Option<(String, String, Vec<(String, String)>)>> {
    let mut request_line = String::new();
    if reader.read_line(&mut request_line)? == 0 {
        return Ok(None);
    }
    let mut parts = request_line.split_whitespace();
    let (Some(method), Some(target)) = (parts.next(), parts.next()) else {
        return Err(invalid("malformed request line"));
    };
    let (method, target) = (method.to_string(), target.to_string());
    let mut headers = Vec::new();
    let mut total = request_line.len();
    loop {
        let mut line = String::new();
        let read = reader.read_line(&mut line)?;
        total += read;
        if read == 0 || total > MAX_HEADER_BYTES {
            return Err(invalid("header section too long or cut short"));
        }
        let line = line.trim_end_matches(['\r', '\n']);
        if line.is_empty() {
            return Ok(Some((method, target, headers)));
        }
        let (name, value) = line
            .split_once(':')
            .ok_or_else(|| invalid("malformed header line"))?;
        headers.push((name.trim().to_string(), value.trim().to_string()));
    }
}

/// A chunked body: hexadecimal sizes (extensions ignored), data, then trailers up to a blank line.
fn read_chunked(reader: &mut BufReader<TcpStream>) -> std::io::Result<Vec<u8>> {
    let mut body = Vec::new();
    loop {
        let mut size_line = String::new();
        if reader.read_line(&mut size_line)? == 0 {
            return Err(invalid("chunked body cut short"));
        }
        let size_text = size_line.split(';').next().unwrap_or("").trim();
        let size =
            usize::from_str_radix(size_text, 16).map_err(|_| invalid("bad chunk size line"))?;
        if size == 0 {
            loop {
                let mut trailer = String::new();
                if reader.read_line(&mut trailer)? == 0 || trailer.trim().is_empty() {
                    return Ok(body);
                }
            }
        }
        let start = body.len();
        body.resize(start + size, 0);
        reader.read_exact(&mut body[start..])?;
        let mut line_end = [0; 2];
        reader.read_exact(&mut line_end)?;
    }
}

fn write_response(writer: &mut TcpStream, response: &Response) -> std::io::Result<()> {
    let mut head = format!(
        "HTTP/1.1 {} {}\r\n",
        response.status,
        reason_phrase(response.status)
    );
    for (name, value) in &response.headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str(&format!(
        "Content-Length: {}\r\nConnection: close\r\n\r\n",
        response.body.len()
    ));
    writer.write_all(head.as_bytes())?;
    writer.write_all(&response.body)
}

fn reason_phrase(status: u16) -> &'static str {
    match status {
        200 => "OK",
        201 => "Created",
        204 => "No Content",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        409 => "Conflict",
        422 => "Unprocessable Entity",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "Status",
    }
}

fn invalid(message: &str) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidData, message.to_string())
}
