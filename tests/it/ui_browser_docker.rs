//! `envctl ui` in a real browser: headless Chromium (Debian's `chromium` and
//! `chromium-driver`, installed by scripts/test.sh) driven over WebDriver. It loads the page,
//! brings an instance up from it and watches it become ready live, opens a service's logs
//! (markup in them stays text), and runs `down` from the page. Screenshots of each step go to
//! target/ui-screenshots/ for CI to keep.

use crate::support;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use support::ui::{DownOnDrop, UiServer};

const PATIENCE: Duration = Duration::from_secs(60);

/// `chromedriver` on a free loopback port, stopped on drop.
struct Driver {
    child: Child,
    port: u16,
}

impl Driver {
    fn start() -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver must be installed (apt-get install chromium-driver; scripts/test.sh does)");
        let driver = Self { child, port };
        // It listens once it is ready for sessions (and keeps HTTP/1.0 connections open, so
        // a plain GET would not tell).
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "chromedriver never listened on {port}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        driver
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A headless Chromium that talks to nothing but loopback.
async fn browser(driver: &Driver, profile: &std::path::Path) -> Client {
    let args = [
        "--headless=new".to_string(),
        "--no-sandbox".into(),
        "--disable-gpu".into(),
        "--disable-dev-shm-usage".into(),
        "--window-size=1280,1000".into(),
        "--no-first-run".into(),
        "--disable-background-networking".into(),
        "--disable-component-update".into(),
        "--disable-sync".into(),
        "--disable-extensions".into(),
        format!("--user-data-dir={}", profile.display()),
    ];
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        serde_json::json!({ "binary": "/usr/bin/chromium", "args": args }),
    );
    ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(caps)
        .connect(&format!("http://127.0.0.1:{}", driver.port))
        .await
        .expect("a Chromium session")
}

/// Waits until an element matching `css` exists and its text satisfies `ok`; returns the text.
async fn wait_text(client: &Client, css: &str, ok: impl Fn(&str) -> bool) -> String {
    let deadline = Instant::now() + PATIENCE;
    let mut last = String::new();
    loop {
        if let Ok(el) = client.find(Locator::Css(css)).await {
            if let Ok(text) = el.text().await {
                if ok(&text) {
                    return text;
                }
                last = text;
            }
        }
        if Instant::now() > deadline {
            screenshot(client, "failed").await;
            let page = client.source().await.unwrap_or_default();
            panic!("`{css}` never matched within {PATIENCE:?}; last text {last:?}; page:\n{page}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Clicks `css` once it is there. A live page may replace the element between finding and
/// clicking it (the list re-renders on every change): then it is found again, until PATIENCE.
async fn click(client: &Client, css: &str) {
    let deadline = Instant::now() + PATIENCE;
    loop {
        wait_text(client, css, |_| true).await;
        let clicked = match client.find(Locator::Css(css)).await {
            Ok(element) => element.click().await,
            Err(e) => Err(e),
        };
        match clicked {
            Ok(()) => return,
            Err(e) if e.to_string().contains("stale element") && Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(e) => panic!("clicking `{css}`: {e}"),
        }
    }
}

async fn screenshot(client: &Client, name: &str) {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/ui-screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    let png = client.screenshot().await.expect("a screenshot");
    std::fs::write(dir.join(format!("{name}.png")), png).unwrap();
}

const DEFINITION: &str = r#"
services:
  cache:
    image: envctl/redis:7
    ports: [6379]
    healthcheck: { tcp: 6379 }
  app:
    image: envctl/busybox:1.35
    command: ["sh", "-c", "echo '<script>alert(1)</script><b>bold</b>'; exec sleep 3600"]
    depends_on: { cache: healthy }
"#;

#[tokio::test(flavor = "multi_thread")]
async fn up_logs_and_down_from_the_page() {
    let env = support::unique_name("uiweb");
    let dir = support::definition_dir(&env, DEFINITION);
    let _down = DownOnDrop {
        dir: dir.path(),
        env: env.clone(),
    };
    let ui = UiServer::start(dir.path(), "127.0.0.1:0", &[]);
    let driver = Driver::start();
    let profile = tempfile::tempdir().unwrap();
    let client = browser(&driver, profile.path()).await;
    client.goto(&ui.url).await.unwrap();

    // Up from the list of environments, confirmed; the list shows it become ready, live.
    click(&client, &format!("div[data-env='{env}'] button")).await;
    click(&client, "#confirm-yes").await;
    let row = format!("tr[data-instance='{env}']");
    wait_text(&client, &format!("{row} td.ready"), |t| t == "2/2").await;
    screenshot(&client, "1-instances").await;

    // The instance: its graph coloured by state, dependencies drawn.
    click(&client, &format!("{row} a")).await;
    wait_text(
        &client,
        "g.node[data-service='app'][data-state='ready']",
        |_| true,
    )
    .await;
    wait_text(
        &client,
        "g.node[data-service='cache'][data-state='ready']",
        |_| true,
    )
    .await;
    assert_eq!(
        client
            .find_all(Locator::Css("svg#graph line"))
            .await
            .unwrap()
            .len(),
        1
    );
    screenshot(&client, "2-instance").await;

    // Logs: markup written by the service is shown as text and never becomes elements.
    click(&client, "button[data-logs='app']").await;
    wait_text(&client, "#logs", |t| {
        t.contains("<script>alert(1)</script><b>bold</b>")
    })
    .await;
    assert!(client
        .find_all(Locator::Css("#logs script, #logs b"))
        .await
        .unwrap()
        .is_empty());
    assert!(
        client.get_alert_text().await.is_err(),
        "a script from the logs ran"
    );
    screenshot(&client, "3-logs").await;

    // A new lifetime and a restart, each confirmed, each with its outcome.
    click(&client, "#btn-extend").await;
    click(&client, "#confirm-yes").await;
    let result = wait_text(&client, "#action-result span", |t| !t.is_empty()).await;
    assert!(
        result.starts_with(&format!("done: {env} expires at ")),
        "{result}"
    );
    wait_text(&client, "td[title]", |t| t.ends_with('h')).await;
    click(&client, "button[data-restart='cache']").await;
    click(&client, "#confirm-yes").await;
    let result = wait_text(&client, "#action-result span", |t| !t.is_empty()).await;
    assert_eq!(result, format!("done: restarted {env}-cache"));
    screenshot(&client, "4-restarted").await;

    // Down, confirmed; progress and outcome shown; the page sees the instance go.
    click(&client, "#btn-down").await;
    click(&client, "#confirm-yes").await;
    let result = wait_text(&client, "#action-result span", |t| !t.is_empty()).await;
    assert!(
        result.starts_with("done: removed: 2 container(s)"),
        "{result}"
    );
    wait_text(&client, "#instance-problem", |t| {
        t.contains("does not exist")
    })
    .await;
    screenshot(&client, "5-down").await;
    client.close().await.unwrap();

    let left = support::docker_stdout(&[
        "ps",
        "-aq",
        "--filter",
        &format!("label=io.envctl.instance={env}"),
    ])
    .unwrap();
    assert!(left.is_empty(), "containers left: {left}");
}
