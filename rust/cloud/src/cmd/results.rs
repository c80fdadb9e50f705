//! `cloud results`: the stored results (or the refusals), as a table or JSON lines.

use std::io::Write;

use cloud::{time, ResultQuery};

use super::{open_store, usage, Failure, Opts};

pub const USAGE: &str = "usage: cloud results [--db FILE] [--device UUID] [--limit N] [--json] [--refusals]
Lists the stored results, oldest first: the time received (UTC), device, counter, format,
model, inputs (- for a result stored before the claims carried them), values and nonce;
--json prints one JSON object per line instead (with the kid,
the model's SHA-256, how it came in, mqtt or verify, and the payload's SHA-256).
--db        the store (default cloud.db)
--device    only this device's results
--limit     only the latest N
--refusals  the refusals instead (time, topic or command, reason), latest N (default 50)
Exit codes: 0 listed (also when there is nothing to list), 1 the store cannot be read,
2 usage";

pub fn run(argv: impl Iterator<Item = String>) -> Result<(), Failure> {
    let opts = Opts::parse(argv, &["--db", "--device", "--limit"], &["--json", "--refusals"], USAGE)?;
    let limit = match opts.get("--limit") {
        None => None,
        Some(n) => Some(n.parse::<u32>().map_err(|_| usage("--limit must be a number", USAGE))?),
    };
    let store = open_store(&opts)?;
    let mut out = std::io::stdout().lock();
    let json = opts.flag("--json");
    if opts.flag("--refusals") {
        for r in store.refusals(limit.unwrap_or(50))? {
            let line = if json {
                serde_json::to_string(&r).map_err(|e| Failure::Failed(e.to_string()))?
            } else {
                let source = r.topic.as_deref().unwrap_or(&r.via);
                format!("{}  {source}  {}", time::utc(r.at), r.reason)
            };
            let _ = writeln!(out, "{line}");
        }
        return Ok(());
    }
    let query = ResultQuery { device: opts.get("--device").map(Into::into), after_id: None, limit };
    let results = store.results(&query)?;
    if !json {
        let _ = writeln!(
            out,
            "{:<23}  {:<36}  {:>7}  {:<8}  {:<8}  {:<10}  {:<24}  NONCE",
            "RECEIVED (UTC)", "DEVICE", "COUNTER", "FORMAT", "MODEL", "INPUTS", "VALUES"
        );
    }
    for r in results {
        let line = if json {
            serde_json::to_string(&r).map_err(|e| Failure::Failed(e.to_string()))?
        } else {
            let list = |v: &[f32]| v.iter().map(|v| format!("{v:.6}")).collect::<Vec<_>>().join(",");
            format!(
                "{:<23}  {:<36}  {:>7}  {:<8}  {:<8}  {:<10}  {:<24}  {}",
                time::utc(r.received_at),
                r.device,
                r.counter,
                r.format,
                r.model,
                match (&r.input_sha256, r.inputs.as_deref()) {
                    (Some(digest), _) => format!("tensor sha256:{}..", &digest[..digest.len().min(8)]),
                    (None, inputs) => inputs.map_or_else(|| "-".into(), list),
                },
                list(&r.values),
                r.nonce.as_deref().unwrap_or("-")
            )
        };
        let _ = writeln!(out, "{line}");
    }
    Ok(())
}
