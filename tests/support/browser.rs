//! A real headless Chromium driven over WebDriver (Debian's `chromium` and `chromium-driver`),
//! for tests of the dashboard as a person uses it. Only the handful of WebDriver commands the
//! tests need, spoken over HTTP with the same client as the API tests.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine as _;
use serde_json::{Value, json};

use super::server::{agent, answer};

const CHROMIUM: &str = "/usr/bin/chromium";
const DRIVER: &str = "/usr/bin/chromedriver";

/// The W3C WebDriver key of an element reference.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// A browser session; the driver (and with it the browser) ends when dropped.
pub struct Browser {
    driver: Child,
    session: String,
    agent: ureq::Agent,
}

impl Browser {
    /// Starts Chromium, or returns `None` on a developer's machine without it. In CI (where
    /// `CI` is set and `.ci/run` installs it) a missing browser fails the test.
    pub fn start() -> Option<Browser> {
        if !Path::new(CHROMIUM).exists() || !Path::new(DRIVER).exists() {
            assert!(
                std::env::var_os("CI").is_none(),
                "Chromium and chromedriver are required in CI: apt-get install chromium chromium-driver"
            );
            eprintln!(
                "skipped: no {CHROMIUM} or {DRIVER} (apt-get install chromium chromium-driver)"
            );
            return None;
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .expect("a free port")
            .port();
        let driver = Command::new(DRIVER)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts");
        let base = format!("http://127.0.0.1:{port}");
        let agent = agent();
        let started = Instant::now();
        while answer_of(&agent, "GET", &format!("{base}/status"), None).is_none() {
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "chromedriver did not start"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        let capabilities = json!({ "capabilities": { "alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": CHROMIUM,
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                         "--window-size=1280,1000", "--autoplay-policy=no-user-gesture-required"]
            }
        }}});
        let created = answer_of(
            &agent,
            "POST",
            &format!("{base}/session"),
            Some(&capabilities),
        )
        .expect("a browser session");
        let session = created["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no session: {created}"))
            .to_string();
        Some(Browser {
            driver,
            session: format!("{base}/session/{session}"),
            agent,
        })
    }

    fn command(&self, method: &str, path: &str, body: Option<&Value>) -> Value {
        let url = format!("{}{path}", self.session);
        let answer = answer_of(&self.agent, method, &url, body)
            .unwrap_or_else(|| panic!("WebDriver {method} {path} got no answer"));
        if let Some(error) = answer["value"]["error"].as_str() {
            panic!(
                "WebDriver {method} {path}: {error}: {}",
                answer["value"]["message"]
            );
        }
        answer["value"].clone()
    }

    pub fn goto(&self, url: &str) {
        self.command("POST", "/url", Some(&json!({ "url": url })));
    }

    /// The first element matching `css`, waiting up to 30 s for it.
    pub fn find(&self, css: &str) -> String {
        self.wait_for(&format!("an element {css}"), || {
            let url = format!("{}/element", self.session);
            let found = answer_of(
                &self.agent,
                "POST",
                &url,
                Some(&json!({ "using": "css selector", "value": css })),
            )?;
            found["value"][ELEMENT].as_str().map(str::to_string)
        })
    }

    pub fn click(&self, css: &str) {
        let element = self.find(css);
        self.command(
            "POST",
            &format!("/element/{element}/click"),
            Some(&json!({})),
        );
    }

    /// Replaces the text of the input matching `css`.
    pub fn type_into(&self, css: &str, text: &str) {
        let element = self.find(css);
        self.command(
            "POST",
            &format!("/element/{element}/clear"),
            Some(&json!({})),
        );
        self.command(
            "POST",
            &format!("/element/{element}/value"),
            Some(&json!({ "text": text })),
        );
    }

    /// Runs a script in the page and returns what it returns.
    pub fn execute(&self, script: &str) -> Value {
        self.command(
            "POST",
            "/execute/sync",
            Some(&json!({ "script": script, "args": [] })),
        )
    }

    /// Waits up to 30 s until `probe` gives a value.
    pub fn wait_for<T>(&self, what: &str, mut probe: impl FnMut() -> Option<T>) -> T {
        let started = Instant::now();
        loop {
            if let Some(value) = probe() {
                return value;
            }
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "the page never showed {what}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Waits until a script returns something truthy.
    pub fn wait_until(&self, what: &str, script: &str) -> Value {
        self.wait_for(what, || {
            let value = self.execute(script);
            let truthy = !(value.is_null()
                || value == json!(false)
                || value == json!("")
                || value == json!(0));
            truthy.then_some(value)
        })
    }

    /// Saves a PNG of the window under `target/screenshots/<name>.png` for a person to look at.
    pub fn screenshot(&self, name: &str) {
        let encoded = self.command("GET", "/screenshot", None);
        let png = base64::engine::general_purpose::STANDARD
            .decode(encoded.as_str().expect("base64 text"))
            .expect("a PNG");
        let folder = Path::new(env!("CARGO_TARGET_TMPDIR")).join("../screenshots");
        std::fs::create_dir_all(&folder).unwrap();
        std::fs::write(folder.join(format!("{name}.png")), png).unwrap();
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.agent.delete(&self.session).call();
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

fn answer_of(agent: &ureq::Agent, method: &str, url: &str, body: Option<&Value>) -> Option<Value> {
    let result = match (method, body) {
        ("GET", _) => agent.get(url).call(),
        ("DELETE", _) => agent.delete(url).call(),
        (_, body) => agent
            .post(url)
            .header("Content-Type", "application/json")
            .send(body.map_or_else(|| "{}".to_string(), Value::to_string)),
    };
    result.ok().map(|response| answer(Ok(response)).1)
}
