//! A TCP proxy between two processes that a test can cut and heal: new connections are
//! refused and open ones closed while cut, so a peer link goes down the way a network does.

use std::io;
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

pub struct Proxy {
    /// Where clients connect (`127.0.0.1:PORT`).
    pub address: String,
    target: Arc<Mutex<Option<String>>>,
    cut: Arc<AtomicBool>,
    open: Arc<Mutex<Vec<TcpStream>>>,
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
        };
        let (target, cut, open) = (p.target.clone(), p.cut.clone(), p.open.clone());
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
                if let Ok(mut o) = open.lock() {
                    o.extend(client.try_clone().ok());
                    o.extend(server.try_clone().ok());
                }
                pipe(&client, &server);
                pipe(&server, &client);
            }
        });
        p
    }

    pub fn forward_to(&self, address: &str) {
        if let Ok(mut t) = self.target.lock() {
            *t = Some(address.trim_start_matches("https://").to_string());
        }
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

fn pipe(from: &TcpStream, to: &TcpStream) {
    let (Ok(mut r), Ok(mut w)) = (from.try_clone(), to.try_clone()) else {
        return;
    };
    std::thread::spawn(move || {
        let _ = io::copy(&mut r, &mut w);
        let _ = w.shutdown(Shutdown::Write);
    });
}
