//! nginx from the distribution in front of several servers, as in `docs/DEPLOY.md`: sessions
//! hashed on the session cookie (each browser stays on one server), WebSockets passed
//! through, a server that does not answer skipped for the next one, and each answer naming
//! the server that gave it (`X-Dialer-Server`). On loopback with a
//! free port, its files in a temporary directory; stopped (by its pid) when dropped.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

pub struct Balancer {
    child: Child,
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    _dir: tempfile::TempDir,
}

impl Balancer {
    /// Starts nginx in front of `servers` (`http://127.0.0.1:PORT` each) and waits until it
    /// answers.
    pub async fn start(servers: &[&str]) -> Balancer {
        let nginx = ["/usr/sbin/nginx", "/usr/bin/nginx"]
            .into_iter()
            .find(|p| std::path::Path::new(p).exists())
            .expect("nginx is required for this test (Debian package nginx; scripts/test.sh installs it)");
        let dir = tempfile::tempdir().expect("temp dir");
        let run = dir.path().display().to_string();
        let port = super::free_tcp_port();
        let upstreams: String = servers
            .iter()
            .map(|s| {
                let address = s.trim_start_matches("http://");
                // A dead server is skipped at once and not tried again for a few seconds.
                format!("        server {address} max_fails=1 fail_timeout=3s;\n")
            })
            .collect();
        // (As root, the workers run as root too: they write the temporary files here.)
        let user = if super::is_root() { "user root;" } else { "" };
        let conf = format!(
            "{user}
worker_processes 1;
pid {run}/nginx.pid;
error_log {run}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    client_body_temp_path {run}/body;
    proxy_temp_path {run}/proxy;
    fastcgi_temp_path {run}/fastcgi;
    uwsgi_temp_path {run}/uwsgi;
    scgi_temp_path {run}/scgi;
    map $http_upgrade $connection_upgrade {{
        default upgrade;
        '' close;
    }}
    upstream dialer {{
        hash $cookie_dialer_session consistent;
{upstreams}    }}
    server {{
        listen 127.0.0.1:{port};
        location / {{
            proxy_pass http://dialer;
            proxy_http_version 1.1;
            proxy_set_header Host $http_host;
            proxy_set_header Upgrade $http_upgrade;
            proxy_set_header Connection $connection_upgrade;
            proxy_connect_timeout 1s;
            proxy_read_timeout 1h;
            proxy_buffering off;
            # Which server answered (the agents of a test note where their phone went).
            add_header X-Dialer-Server $upstream_addr always;
        }}
    }}
}}
"
        );
        let path = dir.path().join("nginx.conf");
        std::fs::write(&path, conf).expect("nginx.conf");
        // (Its workers would hold a test's output open after it: none is given to them.)
        let child = Command::new(nginx)
            .args(["-p", &run, "-c"])
            .arg(&path)
            .args(["-g", "daemon off;"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("nginx starts");
        let url = format!("http://127.0.0.1:{port}");
        let balancer = Balancer { child, url, _dir: dir };
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            let answer = reqwest::get(format!("{}/healthz", balancer.url)).await;
            if answer.is_ok_and(|a| a.status().is_success()) {
                break;
            }
            assert!(tokio::time::Instant::now() < deadline, "nginx did not answer with a server");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        balancer
    }
}

impl Drop for Balancer {
    /// A fast shutdown (SIGTERM): the master stops its workers (a SIGKILL would leave them
    /// running without it); killed after a moment if it has not.
    fn drop(&mut self) {
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        for _ in 0..50 {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
