//! The `cloud` binary's commands: arguments, files, sockets and clocks around the
//! library. Every command answers `--help`; exit codes: 0 done, 1 refused or failed,
//! 2 usage.

use std::collections::HashMap;
use std::fmt;

use cloud::Error;

pub mod listen;
pub mod mqtt;
pub mod nonce;
pub mod results;
pub mod serve;
pub mod verify;

pub const USAGE: &str = "usage: cloud <command> [options]   (cloud <command> --help for each)
commands:
  verify   verify one result given on the command line (and check its counter)
  listen   consume the devices' messages from the MQTT broker: verify, decrypt, store
  results  list the stored results (or the refusals)
  nonce    ask a device for a fresh result bound to a nonce, and wait for it
  serve    the page of devices and results, on loopback
Exit codes: 0 done, 1 refused or failed (the reason on stderr), 2 usage";

/// Why a command stops without success: help asked for (exit 0, the text on stdout), a
/// usage message (2), an error of the library (1 or 2), or another failure (1).
pub enum Failure {
    Help(&'static str),
    Usage(String),
    Cloud(Error),
    Failed(String),
}

impl From<Error> for Failure {
    fn from(e: Error) -> Self {
        Failure::Cloud(e)
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::Help(text) => f.write_str(text),
            Failure::Usage(text) | Failure::Failed(text) => f.write_str(text),
            Failure::Cloud(e) => write!(f, "{e}"),
        }
    }
}

/// A usage failure: `what`, then the command's usage.
pub fn usage(what: &str, usage: &str) -> Failure {
    Failure::Usage(format!("{what}\n{usage}"))
}

/// The options of a command other than `verify`: `--name value` pairs of the names in
/// `values`, bare `--flag`s of the names in `flags`, nothing else.
pub struct Opts {
    values: HashMap<&'static str, String>,
    flags: Vec<&'static str>,
}

impl Opts {
    pub fn parse(
        argv: impl IntoIterator<Item = String>,
        values: &[&'static str],
        flags: &[&'static str],
        text: &'static str,
    ) -> Result<Self, Failure> {
        let mut opts = Opts { values: HashMap::new(), flags: Vec::new() };
        let mut argv = argv.into_iter();
        while let Some(arg) = argv.next() {
            if arg == "-h" || arg == "--help" {
                return Err(Failure::Help(text));
            }
            if let Some(&name) = values.iter().find(|&&v| v == arg) {
                let value = argv.next().ok_or_else(|| usage(&format!("{arg} needs a value"), text))?;
                if opts.values.insert(name, value).is_some() {
                    return Err(usage(&format!("{arg} given twice"), text));
                }
            } else if let Some(&name) = flags.iter().find(|&&f| f == arg) {
                opts.flags.push(name);
            } else if arg.starts_with('-') {
                return Err(usage(&format!("unknown option {arg}"), text));
            } else {
                return Err(usage(&format!("unexpected argument {arg}"), text));
            }
        }
        Ok(opts)
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.values.get(name).map(String::as_str)
    }

    pub fn require(&self, name: &str, text: &str) -> Result<&str, Failure> {
        self.get(name).ok_or_else(|| usage(&format!("{name} is required"), text))
    }

    pub fn flag(&self, name: &str) -> bool {
        self.flags.contains(&name)
    }

    /// A number option, or `default`.
    pub fn number<T: std::str::FromStr>(&self, name: &str, default: T, text: &str) -> Result<T, Failure> {
        match self.get(name) {
            None => Ok(default),
            Some(v) => v.parse().map_err(|_| usage(&format!("{name} must be a number"), text)),
        }
    }
}

/// A file's bytes, or the reason it cannot be read (a usage error: the caller's file).
pub fn read(path: &str) -> Result<Vec<u8>, Failure> {
    std::fs::read(path).map_err(|e| Failure::Cloud(Error::Read(path.into(), e)))
}

/// A text file (a PEM).
pub fn text(path: &str) -> Result<String, Failure> {
    String::from_utf8(read(path)?).map_err(|_| Failure::Usage(format!("{path}: a PEM file must be text")))
}

/// The store named by `--db` (default `cloud.db`), opened.
pub fn open_store(opts: &Opts) -> Result<cloud::Store, Failure> {
    let path = opts.get("--db").unwrap_or("cloud.db");
    cloud::Store::open(std::path::Path::new(path)).map_err(|e| Failure::Failed(format!("store {path}: {e}")))
}

/// The recipient key named by `--recipient-key`, if given.
pub fn recipient_key(opts: &Opts) -> Result<Option<cloud::RecipientKey>, Failure> {
    opts.get("--recipient-key").map(|path| Ok(cloud::RecipientKey::from_pem(&text(path)?)?)).transpose()
}

/// The single-threaded runtime a command's sockets run on.
pub fn runtime() -> Result<tokio::runtime::Runtime, Failure> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure::Failed(format!("cannot start the runtime: {e}")))
}
