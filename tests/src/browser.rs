//! A real browser for the web UI's tests: Debian's headless Chromium driven through
//! ChromeDriver (WebDriver, the `fantoccini` client), started with a fresh profile and the
//! flags this machine needs (no background networking). Without Chromium the tests say they
//! are skipped, visibly, unless `E2E_REQUIRE_BROWSER=1` (CI) makes that a failure.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// Where a test's screenshot goes: docs/screenshots/ with `WRITE_SCREENSHOTS=1` (to refresh
/// the ones the README shows), else `dir` (the test's own directory).
pub fn screenshot_path(dir: &Path, name: &str) -> PathBuf {
    if std::env::var("WRITE_SCREENSHOTS").is_ok_and(|v| v == "1") {
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../docs/screenshots")
            .join(name)
    } else {
        dir.join(name)
    }
}

pub struct Browser {
    rt: tokio::runtime::Runtime,
    pub client: Client,
    driver: Child,
    _profile: tempfile::TempDir,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

impl Browser {
    /// A browser, or `None` (said on stderr) where Chromium is not installed and CI does not
    /// require it.
    pub fn start() -> Option<Browser> {
        if !Path::new(CHROMIUM).exists() || !Path::new(CHROMEDRIVER).exists() {
            let why = "Chromium and ChromeDriver are not installed (apt-get install chromium chromium-driver)";
            if std::env::var("E2E_REQUIRE_BROWSER").is_ok_and(|v| v == "1") {
                panic!("{why}, and E2E_REQUIRE_BROWSER=1");
            }
            eprintln!("SKIPPED: browser test: {why}");
            return None;
        }
        let port = free_port();
        let driver = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromedriver");
        let profile = tempfile::tempdir().expect("profile dir");
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let args = serde_json::json!([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--ignore-certificate-errors",
            "--window-size=1280,800",
            format!("--user-data-dir={}", profile.path().display()),
        ]);
        let mut caps = serde_json::Map::new();
        caps.insert(
            "goog:chromeOptions".into(),
            serde_json::json!({"binary": CHROMIUM, "args": args}),
        );
        caps.insert("acceptInsecureCerts".into(), true.into());
        let url = format!("http://127.0.0.1:{port}");
        let end = Instant::now() + Duration::from_secs(20);
        let client = loop {
            let connector = hyper_util::client::legacy::connect::HttpConnector::new();
            let c = rt.block_on(
                ClientBuilder::new(connector)
                    .capabilities(caps.clone())
                    .connect(&url),
            );
            match c {
                Ok(c) => break c,
                Err(e) if Instant::now() > end => panic!("cannot start Chromium: {e}"),
                Err(_) => std::thread::sleep(Duration::from_millis(100)),
            }
        };
        Some(Browser {
            rt,
            client,
            driver,
            _profile: profile,
        })
    }

    pub fn goto(&self, url: &str) {
        self.rt.block_on(self.client.goto(url)).expect("goto");
    }

    pub fn url(&self) -> String {
        self.rt
            .block_on(self.client.current_url())
            .expect("url")
            .to_string()
    }

    /// The text of the first element matching `css` (`None`: no such element).
    pub fn text(&self, css: &str) -> Option<String> {
        self.rt.block_on(async {
            match self.client.find(Locator::Css(css)).await {
                Ok(e) => e.text().await.ok(),
                Err(_) => None,
            }
        })
    }

    pub fn exists(&self, css: &str) -> bool {
        self.rt
            .block_on(self.client.find_all(Locator::Css(css)))
            .is_ok_and(|v| !v.is_empty())
    }

    /// The element matching `css`, waiting (bounded) for it to appear.
    async fn find(&self, css: &str) -> fantoccini::elements::Element {
        let found = self
            .client
            .wait()
            .at_most(Duration::from_secs(30))
            .for_element(Locator::Css(css))
            .await;
        match found {
            Ok(e) => e,
            Err(e) => panic!("no '{css}' on {}: {e}", self.url_now().await),
        }
    }

    async fn url_now(&self) -> String {
        self.client
            .current_url()
            .await
            .map(|u| u.to_string())
            .unwrap_or_default()
    }

    pub fn fill(&self, css: &str, value: &str) {
        self.rt.block_on(async {
            let e = self.find(css).await;
            e.clear().await.expect("clear");
            e.send_keys(value).await.expect("type");
        });
    }

    pub fn click(&self, css: &str) {
        self.rt.block_on(async {
            let e = self.find(css).await;
            e.click().await.expect("click");
        });
    }

    /// Chooses the option of `<select css>` whose text contains `label`.
    pub fn choose(&self, css: &str, label: &str) {
        self.rt.block_on(async {
            let e = self.find(css).await;
            e.select_by_label(label).await.expect("select");
        });
    }

    /// Resizes the window (a narrow screen: 400 x 800).
    pub fn resize(&self, width: u32, height: u32) {
        self.rt
            .block_on(self.client.set_window_size(width, height))
            .expect("resize");
    }

    /// Presses Tab in the page (real keyboard input, through WebDriver).
    pub fn tab(&self) {
        self.rt.block_on(async {
            let e = self.client.active_element().await.expect("focused element");
            e.send_keys(&fantoccini::key::Key::Tab.to_string())
                .await
                .expect("tab");
        });
    }

    /// Runs `script` (a function body; `return` gives the value) in the page.
    pub fn js(&self, script: &str) -> serde_json::Value {
        self.rt
            .block_on(self.client.execute(script, vec![]))
            .expect("script")
    }

    /// Runs `script` with a `done` callback as its last argument (for promises).
    pub fn js_async(&self, script: &str) -> serde_json::Value {
        let body = format!("const done = arguments[arguments.length - 1]; {script}");
        self.rt
            .block_on(self.client.execute_async(&body, vec![]))
            .expect("async script")
    }

    /// `GET path` from the page (its session), as JSON.
    pub fn get_json(&self, path: &str) -> serde_json::Value {
        self.js_async(&format!(
            "fetch('{path}').then(r => r.json()).then(done, e => done(String(e)));"
        ))
    }

    /// Waits (bounded) until the text of `css` satisfies `cond`.
    pub fn wait_text(&self, what: &str, css: &str, cond: impl Fn(&str) -> bool) -> String {
        let end = Instant::now() + Duration::from_secs(30);
        loop {
            let t = self.text(css).unwrap_or_default();
            if cond(&t) {
                return t;
            }
            if Instant::now() > end {
                panic!("timed out waiting for {what}; '{css}' says: {t}");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// A PNG of the window, written to `path`.
    pub fn screenshot(&self, path: &PathBuf) {
        let png = self
            .rt
            .block_on(self.client.screenshot())
            .expect("screenshot");
        if let Some(d) = path.parent() {
            std::fs::create_dir_all(d).expect("screenshot dir");
        }
        std::fs::write(path, png).expect("write screenshot");
    }

    /// Signs in at `web` with a user name and password, landing on the start page.
    pub fn sign_in_password(&self, web: &str, user: &str, password: &str) {
        self.goto(&format!("{web}/login"));
        self.fill("#user", user);
        self.fill("#password", password);
        self.click("form.login button[type=submit]");
        self.wait_text("the start page", "h1", |t| !t.is_empty() && t != "Sign in");
    }

    /// Signs in at `web` with `key`, landing on the start page.
    pub fn sign_in(&self, web: &str, key: &str) {
        self.goto(&format!("{web}/login"));
        self.fill("#key", key);
        self.click("form.login button[type=submit]");
        self.wait_text("the start page", "h1", |t| !t.is_empty() && t != "Sign in");
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let c = self.client.clone();
        let _ = self.rt.block_on(c.close());
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}
