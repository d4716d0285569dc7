//! `jackbench serve` started as a child process on a free port, and a minimal HTTP/1.1 client.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// A served database: the child process and the address it printed.
pub struct Served {
    pub child: Child,
    pub addr: String,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn serve(db: &str, extra: &[&str]) -> Served {
    let mut child = Command::new(env!("CARGO_BIN_EXE_jackbench"))
        .args(["serve", "--db", db, "--listen", "127.0.0.1:0"])
        .args(extra)
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .expect("serve starts");
    let mut err = BufReader::new(child.stderr.take().expect("stderr"));
    // The line that says where it listens (the database's notices may come first).
    let mut line = String::new();
    let mut said = String::new();
    while err.read_line(&mut line).is_ok_and(|n| n > 0) && !line.contains("http://") {
        said += &line;
        line.clear();
    }
    assert!(line.contains("http://"), "serve said: {said}");
    // The rest of what it says is drained, so that it never blocks on a full pipe.
    std::thread::spawn(move || std::io::copy(&mut err, &mut std::io::stderr()));
    let addr = line
        .split("http://")
        .nth(1)
        .and_then(|r| r.split('/').next())
        .unwrap_or_else(|| panic!("no address in {line:?}"))
        .to_string();
    Served { child, addr }
}

/// One HTTP/1.1 GET: the status and the body.
pub fn get(addr: &str, path: &str, headers: &[(&str, &str)]) -> (u16, String) {
    let (status, _, body) = request(addr, path, headers);
    (status, body)
}

/// One HTTP/1.1 GET, the path sent as it is: the status, the head and the body.
pub fn request(addr: &str, path: &str, headers: &[(&str, &str)]) -> (u16, String, String) {
    let mut s = TcpStream::connect(addr).expect("connects");
    s.set_read_timeout(Some(Duration::from_secs(10))).expect("timeout");
    let mut req = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (k, v) in headers {
        req += &format!("{k}: {v}\r\n");
    }
    req += "\r\n";
    s.write_all(req.as_bytes()).expect("sent");
    // The head, then a body of its Content-Length (a server may keep the connection open), or
    // to the end.
    let mut reader = BufReader::new(s);
    let mut head = String::new();
    let mut line = String::new();
    while reader.read_line(&mut line).expect("read") > 0 && line != "\r\n" {
        head += &line;
        line.clear();
    }
    let status = head.split(' ').nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
    let length = head
        .lines()
        .find_map(|l| l.split_once(':').filter(|(k, _)| k.eq_ignore_ascii_case("content-length")))
        .and_then(|(_, v)| v.trim().parse::<usize>().ok());
    let mut body = Vec::new();
    match length {
        Some(n) => {
            body.resize(n, 0);
            reader.read_exact(&mut body).expect("read");
        }
        None => {
            reader.read_to_end(&mut body).expect("read");
        }
    }
    (status, head.trim_end().to_string(), String::from_utf8_lossy(&body).into_owned())
}
