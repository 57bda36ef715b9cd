//! How every binary ends on an error: one line on stderr, `error: ` and the message with its
//! causes (a cause already in the message is not repeated), exit status 1. Never a backtrace,
//! whatever RUST_BACKTRACE says (`-v`/RUST_LOG show the details in the log instead).

/// The error and its causes on one line, without repeating a cause already in the message.
pub fn one_line(e: &anyhow::Error) -> String {
    let mut out = e.to_string();
    for cause in e.chain().skip(1) {
        let m = cause.to_string();
        if !out.contains(&m) {
            out.push_str(": ");
            out.push_str(&m);
        }
    }
    out
}

/// Ends the process with status 1 and the one-line error when `r` is an error.
pub fn or_exit(r: anyhow::Result<()>) {
    if let Err(e) = r {
        eprintln!("error: {}", one_line(&e));
        std::process::exit(1);
    }
}

#[cfg(test)]
mod tests {
    use anyhow::Context;

    #[test]
    fn causes_join_one_line_without_repeats() {
        let e = Err::<(), _>(std::io::Error::other("disk full"))
            .context("cannot write x")
            .unwrap_err();
        assert_eq!(super::one_line(&e), "cannot write x: disk full");
        let e = Err::<(), _>(std::io::Error::other("disk full"))
            .context("cannot write x: disk full")
            .unwrap_err();
        assert_eq!(super::one_line(&e), "cannot write x: disk full");
    }
}
