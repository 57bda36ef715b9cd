//! `#{}` substitution: the input is variables (`name=value` lines) and a template after a line
//! `---`, evaluated strictly and in compatible mode. Must never panic or hang.
#![no_main]

use domain::variables::template::Mode;
use domain::variables::{Candidate, DeployContext, resolve};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (vars, template) = text.split_once("\n---\n").unwrap_or(("", text));
    let candidates: Vec<Candidate> = vars
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(n, v)| Candidate::new(n, v))
        .collect();
    let resolved = resolve(&candidates, &DeployContext::default());
    let _ = domain::variables::template::check(template);
    let _ = resolved.substitute(template);
    let _ = resolved.evaluate(template, Mode::Compatible);
    for c in &candidates {
        let _ = resolved.get(&c.name);
    }
});
