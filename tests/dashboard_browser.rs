//! The dashboard in a real headless Chromium, as a producer uses it: start a podcast from the
//! page, see it stop at approval without reloading, edit a segment's title in the form,
//! approve, watch the stages advance live, then play and seek the finished episode and find
//! the edited title in the transcript; and the script review gate, where a line is rewritten
//! and given to the other host with the speaker picker. Screenshots land in
//! `target/screenshots/`.

mod support;

use std::time::Duration;

use support::Sandbox;
use support::browser::Browser;
use support::server::Server;

const EDITED_TITLE: &str = "A Title Edited In The Browser";

#[test]
fn a_producer_starts_approves_and_plays_an_episode_in_the_browser() {
    let Some(browser) = Browser::start() else {
        return;
    };
    let sandbox = Sandbox::new();
    let server = Server::start(&sandbox, &sandbox.repository_workflows("served"));

    browser.goto(&server.url("/"));
    browser.find("#executions");
    browser.click("#new-execution");
    browser.type_into("#input-topic", "the lighthouse keepers");
    browser.screenshot("start-form");
    browser.click("#start");

    // The approval appears on the execution page by itself (the page is never reloaded).
    browser.execute("window.notReloaded = true; return true;");
    browser.find("#approval form");
    browser.screenshot("approval");
    browser.type_into(
        "#approval [data-key='segments'] [data-kind='item'] input[data-key='title']",
        EDITED_TITLE,
    );
    browser.click("#approve");

    browser.wait_until(
        "speech synthesis under way or done",
        "const stage = document.querySelector(\"#timeline li[data-stage='audio_synthesis']\"); return stage && stage.dataset.status !== 'pending';",
    );
    browser.execute("window.scrollTo(0, 0); return true;");
    browser.screenshot("progress");
    browser.wait_until(
        "the finished episode",
        "return document.querySelector('#player') !== null;",
    );
    assert_eq!(
        browser.execute("return window.notReloaded === true;"),
        true,
        "the page followed the execution without a reload"
    );
    browser.wait_until(
        "the edited title in the transcript",
        &format!("return (document.querySelector('#transcript')?.textContent || '').includes('{EDITED_TITLE}');"),
    );

    // Play, then seek by choosing the second chapter: the server answers range requests.
    browser.wait_until(
        "the audio's length",
        "const a = document.querySelector('#player'); a.muted = true; return a.readyState >= 1 && a.duration > 0 && document.querySelectorAll('#chapters li').length >= 2;",
    );
    browser.execute("document.querySelector('#player').play(); return true;");
    let start = browser.execute(
        "const li = document.querySelectorAll('#chapters li')[1]; li.click(); return document.querySelector('#player').currentTime;",
    );
    let start = start.as_f64().expect("a time");
    assert!(
        start > 1.0,
        "the second chapter starts later than the first: {start}"
    );
    browser.wait_until(
        "the player seeking and playing past the chapter start",
        &format!("const a = document.querySelector('#player'); return a.seekable.length > 0 && !a.seeking && a.currentTime >= {start};"),
    );
    browser.execute("window.scrollTo(0, 0); return true;");
    browser.screenshot("episode");

    // The list shows the finished episode.
    browser.goto(&server.url("/"));
    browser.wait_until(
        "the completed row",
        "return document.querySelector(\"#executions [data-status='completed']\") !== null;",
    );
    browser.screenshot("executions");
}

#[test]
fn a_producer_rewrites_a_line_and_its_speaker_at_the_script_review() {
    let Some(browser) = Browser::start() else {
        return;
    };
    let sandbox = Sandbox::new();
    let server = Server::start(&sandbox, &sandbox.repository_workflows("served"));
    let inputs = serde_json::json!({
        "topic": "tides", "review_script": true, "skip_cover": true, "skip_mixing": true,
    });
    let (status, started) = server.post(
        "/api/executions",
        &serde_json::json!({ "workflow": "podcast", "inputs": inputs }),
    );
    assert_eq!(status, 201, "{started:#}");
    let id = started["id"].as_str().unwrap().to_string();
    let at_gate = |stage: &'static str| {
        move |report: &serde_json::Value| report["approval"]["stage"] == stage
    };
    server.wait_for(&id, Duration::from_secs(60), at_gate("approval"));
    let (status, _) = server.post(
        &format!("/api/executions/{id}/approve"),
        &serde_json::json!({}),
    );
    assert_eq!(status, 200);
    server.wait_for(&id, Duration::from_secs(60), at_gate("script_review"));

    browser.goto(&server.url(&format!("/executions/{id}")));
    browser.find("#approval form");
    let line = "#approval [data-key='lines'] [data-kind='item']";
    let speaker = browser.execute(&format!(
        "const s = document.querySelector(\"{line} select[data-key='speaker']\"); s.value = s.value === 'Maya' ? 'Theo' : 'Maya'; return s.value;"
    ));
    let speaker = speaker.as_str().expect("a host's name").to_string();
    browser.type_into(
        &format!("{line} textarea[data-key='text']"),
        "Moonlit tides keep their own calendar.",
    );
    browser.screenshot("script-review");
    browser.click("#approve");
    browser.wait_until(
        "the rewritten line in the transcript",
        "return (document.querySelector('#transcript')?.textContent || '').includes('Moonlit tides keep their own calendar.');",
    );
    let subtitles = std::fs::read_to_string(
        sandbox
            .data()
            .join("episodes")
            .join(&id)
            .join("episode.vtt"),
    )
    .unwrap();
    // Cues wrap long lines; the voice tag opens the first.
    assert!(
        subtitles.contains(&format!("<v {speaker}>Moonlit tides keep their own")),
        "{subtitles}"
    );
}

#[test]
fn a_guarded_server_asks_for_the_token_once() {
    let Some(browser) = Browser::start() else {
        return;
    };
    let sandbox = Sandbox::new();
    let token = "a-long-enough-browser-token";
    let mut command = sandbox.command();
    command.env("HOST_API_TOKEN", token);
    let server = Server::start_with(
        &sandbox,
        &sandbox.repository_workflows("served"),
        command,
        &[],
    );
    browser.goto(&server.url("/"));
    browser.find("form.login input[name='token']");
    browser.screenshot("login");
    browser.type_into("form.login input[name='token']", token);
    browser.click("form.login button");
    browser.find("#executions");
    browser.wait_until(
        "the empty list",
        "return document.querySelector('#empty') !== null;",
    );
}
