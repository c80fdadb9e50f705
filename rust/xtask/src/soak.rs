//! `cargo xtask soak [KILLS]`: the crash-consistency test with thousands of SIGKILLs
//! (the test command runs it with a few dozen).

use crate::Result;
use std::process::Command;
use std::time::Instant;

const DEFAULT_KILLS: u32 = 2_000;

pub fn run(args: &[String]) -> Result {
    let kills = match args.first() {
        Some(n) => n.parse::<u32>().map_err(|_| format!("soak: {n:?} is not a number of kills"))?,
        None => DEFAULT_KILLS,
    };
    let started = Instant::now();
    let mut test = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    test.current_dir(crate::root())
        .args(["test", "--release", "-p", "device-sim", "--test", "crash", "--", "--nocapture"])
        .env("SI_CRASH_KILLS", kills.to_string());
    crate::run(&mut test)?;
    eprintln!("xtask: soak of {kills} SIGKILLs passed in {:.0?}", started.elapsed());
    Ok(())
}
