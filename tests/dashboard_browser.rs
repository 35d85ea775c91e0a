//! The dashboard in a real headless Chromium, as a producer uses it: start a podcast from the
//! page, see it stop at approval without reloading, edit a segment's title in the form,
//! approve, watch the stages advance live, then play and seek the finished episode and find
//! the edited title in the transcript. Screenshots land in `target/screenshots/`.

mod support;

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
