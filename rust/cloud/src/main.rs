//! `cloud`: verify results one at a time (`verify`), consume them from the MQTT broker
//! into the store (`listen`), list them (`results`), ask a device for a fresh one
//! (`nonce`), and show them on a page (`serve`). Exit codes: 0 done, 1 refused or
//! failed, 2 usage.
#![forbid(unsafe_code)]

mod cmd;

use std::io::Write;
use std::process::ExitCode;

use cmd::{Failure, USAGE};

fn main() -> ExitCode {
    let argv: Result<Vec<String>, _> = std::env::args_os().skip(1).map(|a| a.into_string()).collect();
    let result = match argv {
        Err(_) => Err(Failure::Usage(format!("arguments must be UTF-8\n{USAGE}"))),
        Ok(argv) => {
            let mut argv = argv.into_iter();
            let command = argv.next();
            match command.as_deref() {
                Some("verify") => cmd::verify::run(argv),
                Some("listen") => cmd::listen::run(argv),
                Some("results") => cmd::results::run(argv),
                Some("nonce") => cmd::nonce::run(argv),
                Some("serve") => cmd::serve::run(argv),
                Some("-h" | "--help" | "help") => Err(Failure::Help(USAGE)),
                Some(other) => Err(Failure::Usage(format!("unknown command {other}\n{USAGE}"))),
                None => Err(Failure::Usage(USAGE.into())),
            }
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Help(text)) => {
            // A closed stdout (a pipe to `head`) is not worth a panic.
            let _ = writeln!(std::io::stdout(), "{text}");
            ExitCode::SUCCESS
        }
        Err(Failure::Usage(message)) => {
            eprintln!("cloud: {message}");
            ExitCode::from(2)
        }
        Err(Failure::Cloud(e)) => {
            eprintln!("cloud: {e}");
            ExitCode::from(if e.is_usage() { 2 } else { 1 })
        }
        Err(Failure::Failed(message)) => {
            eprintln!("cloud: {message}");
            ExitCode::from(1)
        }
    }
}
