//! Benchmark: evaluating a 1 MiB configuration file with 10,000 references (plain ones,
//! filtered ones, conditionals and a loop), cold (parsed then evaluated) and warm (parse
//! cached), side by side in the same run with Jinja2 (compile + render, and render only) on
//! the same template written in Jinja2's syntax, and envsubst on the plain references.
//! Prints a markdown table. Run by bench/templates.sh.

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Instant;

use domain::variables::template::Mode;
use domain::variables::{Candidate, DeployContext, resolve};

const REFS: usize = 10_000;
const TARGET_BYTES: usize = 1 << 20;
const RUNS: usize = 15;

/// The template in our syntax, Jinja2's and envsubst's (plain references only).
fn templates() -> (String, String, String) {
    let (mut ours, mut jinja, mut env) = (String::new(), String::new(), String::new());
    let filler_len = TARGET_BYTES / REFS - 24;
    let filler = "x".repeat(filler_len);
    let mut refs = 0;
    let mut i = 0;
    while refs < REFS {
        let v = format!("Var{}", i % 100);
        match i % 20 {
            0 => {
                ours.push_str(&format!("#{{if Flag}}on {filler}#{{/if}}\n"));
                jinja.push_str(&format!("{{% if Flag %}}on {filler}{{% endif %}}\n"));
                refs += 1;
            }
            1 => {
                ours.push_str(&format!("k{i}=#{{{v} | ToUpper}} {filler}\n"));
                jinja.push_str(&format!("k{i}={{{{ {v} | upper }}}} {filler}\n"));
                refs += 1;
            }
            2 if i % 1000 == 2 => {
                ours.push_str("#{each s in Servers}server=#{s}\n#{/each}");
                jinja.push_str("{% for s in Servers %}server={{ s }}\n{% endfor %}");
                refs += 11;
            }
            _ => {
                ours.push_str(&format!("k{i}=#{{{v}}} {filler}\n"));
                jinja.push_str(&format!("k{i}={{{{ {v} }}}} {filler}\n"));
                refs += 1;
            }
        }
        env.push_str(&format!("k{i}=${{{v}}} {filler}\n"));
        i += 1;
    }
    // Text up to 1 MiB after the references.
    for t in [&mut ours, &mut jinja, &mut env] {
        let pad = TARGET_BYTES.saturating_sub(t.len());
        t.push_str(&"y".repeat(pad));
    }
    (ours, jinja, env)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn ms(f: impl FnOnce()) -> f64 {
    let t = Instant::now();
    f();
    t.elapsed().as_secs_f64() * 1000.0
}

const JINJA: &str = r#"
import sys, time, json, statistics
from jinja2 import Environment
src = open(sys.argv[1]).read()
runs = int(sys.argv[2])
ctx = {f"Var{i}": f"value-{i}" for i in range(100)}
ctx["Flag"] = True
ctx["Servers"] = [f"web{i}" for i in range(10)]
env = Environment()
cold, warm = [], []
for r in range(runs):
    t = time.perf_counter(); out = env.from_string(src + f"{{# {r} #}}").render(ctx); cold.append(time.perf_counter() - t)
tpl = env.from_string(src)
for r in range(runs):
    t = time.perf_counter(); out = tpl.render(ctx); warm.append(time.perf_counter() - t)
print(json.dumps({"cold": statistics.median(cold) * 1000, "warm": statistics.median(warm) * 1000, "bytes": len(out)}))
"#;

fn main() -> anyhow::Result<()> {
    let (ours, jinja, env) = templates();
    let dir = tempfile::tempdir()?;
    let mut cands: Vec<Candidate> = (0..100)
        .map(|i| Candidate::new(format!("Var{i}"), format!("value-{i}")))
        .collect();
    cands.push(Candidate::new("Flag", "True"));
    let servers: Vec<String> = (0..10).map(|i| format!("web{i}")).collect();
    cands.push(Candidate::new("Servers", servers.join(",")));
    let r = resolve(&cands, &DeployContext::default());
    let mut out_len = 0;
    let cold = median(
        (0..RUNS)
            .map(|run| {
                let text = format!("{ours}# run {run}\n");
                ms(|| {
                    out_len = r
                        .evaluate(&text, Mode::Strict)
                        .map(|e| e.text.len())
                        .unwrap_or(0)
                })
            })
            .collect(),
    );
    let warm = median(
        (0..RUNS)
            .map(|_| {
                ms(|| {
                    out_len = r
                        .evaluate(&ours, Mode::Strict)
                        .map(|e| e.text.len())
                        .unwrap_or(0)
                })
            })
            .collect(),
    );
    anyhow::ensure!(out_len > TARGET_BYTES / 2, "the template did not evaluate");

    let jinja_file = dir.path().join("t.j2");
    std::fs::write(&jinja_file, &jinja)?;
    let py = Command::new("python3")
        .args([
            "-c",
            JINJA,
            jinja_file.to_str().unwrap_or_default(),
            &RUNS.to_string(),
        ])
        .output();
    let jinja_result: Option<serde_json::Value> = match py {
        Ok(o) if o.status.success() => serde_json::from_slice(&o.stdout).ok(),
        _ => None,
    };

    let env_vars: Vec<(String, String)> = (0..100)
        .map(|i| (format!("Var{i}"), format!("value-{i}")))
        .collect();
    let envsubst = median(
        (0..RUNS)
            .map(|_| {
                ms(|| {
                    let child = Command::new("envsubst")
                        .envs(env_vars.iter().cloned())
                        .stdin(Stdio::piped())
                        .stdout(Stdio::null())
                        .spawn();
                    if let Ok(mut c) = child {
                        if let Some(mut i) = c.stdin.take() {
                            let _ = i.write_all(env.as_bytes());
                        }
                        let _ = c.wait();
                    }
                })
            })
            .collect(),
    );

    println!(
        "template: {} bytes, {REFS} references (plain, filtered, conditionals, a loop); output {out_len} bytes; median of {RUNS} runs",
        ours.len()
    );
    println!();
    println!("| measure | ours | baseline in the same run | ratio | goal |");
    println!("|---|---|---|---|---|");
    match jinja_result {
        Some(j) => {
            let (jc, jw) = (
                j["cold"].as_f64().unwrap_or(f64::NAN),
                j["warm"].as_f64().unwrap_or(f64::NAN),
            );
            println!(
                "| parse + evaluate (cold) | {cold:.1} ms | Jinja2 compile + render {jc:.1} ms | {:.2}x | < 50 ms |",
                cold / jc
            );
            println!(
                "| evaluate, parse cached (warm) | {warm:.1} ms | Jinja2 render {jw:.1} ms | {:.2}x | < 50 ms |",
                warm / jw
            );
        }
        None => {
            println!(
                "| parse + evaluate (cold) | {cold:.1} ms | Jinja2 SKIPPED (python3 -c 'import jinja2' failed: pip install jinja2) | - | < 50 ms |"
            );
            println!(
                "| evaluate, parse cached (warm) | {warm:.1} ms | Jinja2 SKIPPED | - | < 50 ms |"
            );
        }
    }
    println!(
        "| plain references only | (in the rows above) | envsubst, process included, {envsubst:.1} ms | - | - |"
    );
    Ok(())
}
