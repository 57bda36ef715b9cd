//! A TCP proxy between two processes that a test can cut and heal (new connections are
//! refused and open ones closed while cut, so a peer link goes down the way a network does)
//! and slow down: each direction delivers what it read `latency` later, without limiting
//! throughput (bytes in flight queue up, as on a long link).

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub struct Proxy {
    /// Where clients connect (`127.0.0.1:PORT`).
    pub address: String,
    target: Arc<Mutex<Option<String>>>,
    cut: Arc<AtomicBool>,
    open: Arc<Mutex<Vec<TcpStream>>>,
    latency_ms: Arc<AtomicU64>,
}

impl Proxy {
    /// Listens on a free port; forwards nowhere until [`Proxy::forward_to`].
    pub fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the proxy");
        let address = listener.local_addr().expect("proxy address").to_string();
        let p = Proxy {
            address,
            target: Arc::default(),
            cut: Arc::default(),
            open: Arc::default(),
            latency_ms: Arc::default(),
        };
        let (target, cut, open) = (p.target.clone(), p.cut.clone(), p.open.clone());
        let latency = p.latency_ms.clone();
        std::thread::spawn(move || {
            for client in listener.incoming().flatten() {
                let to = target.lock().ok().and_then(|t| t.clone());
                let Some(to) = to.filter(|_| !cut.load(Ordering::SeqCst)) else {
                    let _ = client.shutdown(Shutdown::Both);
                    continue;
                };
                let Ok(server) = TcpStream::connect(&to) else {
                    continue;
                };
                // As the real ends do: no Nagle delay (with delayed ACKs it stalls 40 ms).
                let _ = client.set_nodelay(true);
                let _ = server.set_nodelay(true);
                if let Ok(mut o) = open.lock() {
                    o.extend(client.try_clone().ok());
                    o.extend(server.try_clone().ok());
                }
                pipe(&client, &server, latency.clone());
                pipe(&server, &client, latency.clone());
            }
        });
        p
    }

    pub fn forward_to(&self, address: &str) {
        if let Ok(mut t) = self.target.lock() {
            *t = Some(address.trim_start_matches("https://").to_string());
        }
    }

    /// Delays everything crossing the proxy by `d` in each direction (from now on).
    pub fn set_latency(&self, d: Duration) {
        self.latency_ms
            .store(d.as_millis() as u64, Ordering::SeqCst);
    }

    /// Cuts the link (open connections closed, new ones refused) or heals it.
    pub fn set_cut(&self, cut: bool) {
        self.cut.store(cut, Ordering::SeqCst);
        if cut && let Ok(mut o) = self.open.lock() {
            for s in o.drain(..) {
                let _ = s.shutdown(Shutdown::Both);
            }
        }
    }
}

fn pipe(from: &TcpStream, to: &TcpStream, latency_ms: Arc<AtomicU64>) {
    let (Ok(mut r), Ok(mut w)) = (from.try_clone(), to.try_clone()) else {
        return;
    };
    let (tx, rx) = std::sync::mpsc::channel::<(Instant, Vec<u8>)>();
    std::thread::spawn(move || {
        let mut buf = vec![0u8; 64 << 10];
        loop {
            match r.read(&mut buf) {
                Ok(0) | Err(_) => return, // dropping `tx` ends the writer
                Ok(n) => {
                    let due =
                        Instant::now() + Duration::from_millis(latency_ms.load(Ordering::SeqCst));
                    if tx.send((due, buf[..n].to_vec())).is_err() {
                        return;
                    }
                }
            }
        }
    });
    std::thread::spawn(move || {
        for (due, bytes) in rx {
            if let Some(wait) = due.checked_duration_since(Instant::now()) {
                std::thread::sleep(wait);
            }
            if w.write_all(&bytes).is_err() {
                return;
            }
        }
        let _ = w.shutdown(Shutdown::Write);
    });
}
