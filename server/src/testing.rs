//! Test support, for the library's own tests and for the integration tests (which see it
//! through the `testing` feature, enabled by this package's dev-dependency on itself): a real
//! `redis-server` on a free loopback port with a temporary directory, no persistence unless
//! asked, killed on drop.

use std::process::Stdio;
use std::time::Duration;

/// A real `redis-server` on a free loopback port with its own temporary directory, killed on
/// drop. Tests get it from [`RedisServer::try_start`]: where `redis-server` is not installed a
/// plain `cargo test` skips them (building and testing need Rust alone), and the test command,
/// which installs it, sets `MCP_CHAT_REQUIRE_REDIS=1` so that they fail instead.
pub struct RedisServer {
    child: Option<std::process::Child>,
    pub port: u16,
    dir: std::path::PathBuf,
    extra: Vec<String>,
}

impl RedisServer {
    /// [`Self::start_with`], or `None` (the caller returns: a skip, said on stderr) when
    /// `redis-server` is not installed and `MCP_CHAT_REQUIRE_REDIS` is not set.
    pub fn try_start(extra: &[&str]) -> Option<RedisServer> {
        let installed = std::process::Command::new("redis-server")
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok();
        if !installed && std::env::var_os("MCP_CHAT_REQUIRE_REDIS").is_none() {
            eprintln!(
                "skipped: redis-server is not installed (scripts/setup.sh installs it; \
                 MCP_CHAT_REQUIRE_REDIS=1 makes this a failure)"
            );
            return None;
        }
        Some(Self::start_with(extra))
    }

    /// No persistence: a restart starts empty.
    pub fn start() -> RedisServer {
        Self::start_with(&[])
    }

    /// With `extra` arguments, e.g. `["--appendonly", "yes"]` to survive a restart, or
    /// `["--requirepass", "pw"]`.
    pub fn start_with(extra: &[&str]) -> RedisServer {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free loopback port")
            .port();
        let dir =
            std::env::temp_dir().join(format!("mcp-chat-it-redis-{}-{port}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let mut server = RedisServer {
            child: None,
            port,
            dir,
            extra: extra.iter().map(|s| s.to_string()).collect(),
        };
        server.spawn();
        server
    }

    fn spawn(&mut self) {
        // Later arguments win, so `extra` may turn persistence back on.
        let child = std::process::Command::new("redis-server")
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .arg("--dir")
            .arg(&self.dir)
            .args(&self.extra)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "cannot start redis-server ({e}): the Redis tests need it; install it with \
                     scripts/setup.sh"
                )
            });
        self.child = Some(child);
        self.wait_ready();
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    fn wait_ready(&self) {
        let started = std::time::Instant::now();
        loop {
            let ping = redis::Client::open(self.url())
                .and_then(|c| c.get_connection())
                .and_then(|mut c| redis::cmd("PING").query::<String>(&mut c));
            let answered = match ping {
                Ok(_) => true,
                // NOAUTH, LOADING and the like: it answers, so it is up.
                Err(e) => !e.is_io_error(),
            };
            if answered {
                return;
            }
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "redis-server on port {} did not answer within 10 s",
                self.port
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Stops the server (SIGTERM: a clean shutdown) and starts it again on the same port.
    pub fn restart(&mut self, down_for: Duration) {
        self.stop();
        std::thread::sleep(down_for);
        self.spawn();
    }

    fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = std::process::Command::new("kill")
                .args(["-TERM", &child.id().to_string()])
                .status();
            let _ = child.wait();
        }
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
