//! `cloud verify`: the command-line face of the `cloud` library. Exit codes: 0 accepted
//! (the claims as one JSON line on stdout), 1 refused, 2 usage.
#![forbid(unsafe_code)]

use std::io::{Read, Write};
use std::path::Path;
use std::process::ExitCode;

use cloud::{
    decode_file, decode_text, parse_key_id, verify, CounterStore, DeviceKey, Error, Options, RecipientKey,
};

const USAGE: &str =
    "usage: cloud verify (--device-key <SPKI PEM file | SEC1 hex> [--key-id 5002] | --device-cert <PEM file>)
                    [--recipient-key <PKCS#8 or SEC1 PEM file>] [--state <dir>] [--nonce <hex>]
                    [--allow-unsigned] <RESULT>
RESULT: hex, base64 (standard or URL-safe), - for stdin, or a file (raw, hex or base64)
The device key must be the COSE SIGN key 0x5002, stated as such: the Client TLS key 0x5001
signs any digest for the non-secure world (TLS_SIGN), so a result signed with it proves
nothing, and it is refused (as is 0x5003, which signs no results).
--device-cert: its subject's OU must be \"Device COSE SIGN\" (the key's label, as in the
         device's CSRs); an extended key usage that allows TLS is refused
--key-id: the id a raw --device-key is registered under (5002); needed unless the PEM file
         states it with the \"Key ID: 0x5002\" line that `keys public 5002` prints
--state: the last counter per device; a result at or below it is refused, and only signed
         results are recorded
Exit codes: 0 accepted (the claims as one JSON line), 1 refused (the reason on stderr),
2 usage (bad arguments, unreadable files, keys that are not the COSE SIGN key 0x5002)";

/// Why no claims are printed: help asked for (exit 0), a usage message (exit 2), an
/// error of the library (1 or 2), or the claims could not be written as JSON (1).
enum Failure {
    Help,
    Usage(String),
    Cloud(Error),
    Output(serde_json::Error),
}

impl From<Error> for Failure {
    fn from(e: Error) -> Self {
        Failure::Cloud(e)
    }
}

#[derive(Default)]
struct Args {
    device_key: Option<String>,
    device_cert: Option<String>,
    key_id: Option<String>,
    recipient_key: Option<String>,
    state: Option<String>,
    nonce: Option<String>,
    allow_unsigned: bool,
    result: Option<String>,
}

fn parse(mut argv: impl Iterator<Item = String>) -> Result<Args, Failure> {
    let usage = |what: &str| Failure::Usage(format!("{what}\n{USAGE}"));
    if argv.next().as_deref() != Some("verify") {
        return Err(usage("the only command is verify"));
    }
    let mut args = Args::default();
    while let Some(arg) = argv.next() {
        let (slot, value) = match arg.as_str() {
            "--device-key" => (&mut args.device_key, argv.next()),
            "--device-cert" => (&mut args.device_cert, argv.next()),
            "--key-id" => (&mut args.key_id, argv.next()),
            "--recipient-key" => (&mut args.recipient_key, argv.next()),
            "--state" => (&mut args.state, argv.next()),
            "--nonce" => (&mut args.nonce, argv.next()),
            "--allow-unsigned" => {
                args.allow_unsigned = true;
                continue;
            }
            "-h" | "--help" => return Err(Failure::Help),
            s if s.starts_with("--") => return Err(usage(&format!("unknown option {s}"))),
            _ => (&mut args.result, Some(arg.clone())),
        };
        if slot.replace(value.ok_or_else(|| usage(&format!("{arg} needs a value")))?).is_some() {
            let what = if arg.starts_with("--") { arg } else { "RESULT".into() };
            return Err(usage(&format!("{what} given twice")));
        }
    }
    Ok(args)
}

fn read(path: &str) -> Result<Vec<u8>, Error> {
    std::fs::read(path).map_err(|e| Error::Read(path.into(), e))
}

fn text(path: &str) -> Result<String, Error> {
    String::from_utf8(read(path)?).map_err(|_| Error::Key("a PEM file must be text"))
}

fn run(args: Args) -> Result<String, Failure> {
    let key_id = match &args.key_id {
        Some(id) => Some(
            parse_key_id(id)
                .ok_or_else(|| Failure::Usage(format!("--key-id must be a hex key id\n{USAGE}")))?,
        ),
        None => None,
    };
    let device = match (&args.device_key, &args.device_cert) {
        (Some(key), None) if Path::new(key).is_file() => DeviceKey::from_spki_pem(&text(key)?, key_id)?,
        (Some(key), None) => DeviceKey::from_sec1_hex(key, key_id)?,
        (None, Some(cert)) => DeviceKey::from_cert_pem(&text(cert)?, key_id)?,
        _ => return Err(Failure::Usage(format!("exactly one of --device-key and --device-cert\n{USAGE}"))),
    };
    let recipient =
        args.recipient_key.as_deref().map(|path| RecipientKey::from_pem(&text(path)?)).transpose()?;
    let nonce = match &args.nonce {
        Some(n) => Some(hex::decode(n).map_err(|_| Failure::Usage(format!("--nonce must be hex\n{USAGE}")))?),
        None => None,
    };
    let bytes = match args.result.as_deref() {
        None => return Err(Failure::Usage(format!("no RESULT\n{USAGE}"))),
        Some("-") => {
            let mut input = Vec::new();
            std::io::stdin().read_to_end(&mut input).map_err(|e| Error::Read("-".into(), e))?;
            decode_file(input)?
        }
        Some(path) if Path::new(path).is_file() => decode_file(read(path)?)?,
        Some(text) => decode_text(text)?,
    };
    let options = Options { nonce, allow_unsigned: args.allow_unsigned };
    let verified = verify(&bytes, &device, recipient.as_ref(), &options)?;
    if let Some(dir) = &args.state {
        CounterStore::new(dir).accept(&verified)?;
    }
    serde_json::to_string(&verified).map_err(Failure::Output)
}

fn main() -> ExitCode {
    let argv: Result<Vec<String>, _> = std::env::args_os().skip(1).map(|a| a.into_string()).collect();
    let argv = argv.map_err(|_| Failure::Usage(format!("arguments must be UTF-8\n{USAGE}")));
    match argv.and_then(|argv| parse(argv.into_iter())).and_then(run) {
        Ok(json) => {
            // A closed stdout (a pipe to `head`) is not worth a panic.
            let _ = writeln!(std::io::stdout(), "{json}");
            ExitCode::SUCCESS
        }
        Err(Failure::Help) => {
            let _ = writeln!(std::io::stdout(), "{USAGE}");
            ExitCode::SUCCESS
        }
        Err(Failure::Output(e)) => {
            eprintln!("cloud: cannot write the claims as JSON: {e}");
            ExitCode::from(1)
        }
        Err(Failure::Usage(message)) => {
            eprintln!("cloud: {message}");
            ExitCode::from(2)
        }
        Err(Failure::Cloud(e)) => {
            eprintln!("cloud: {e}");
            ExitCode::from(if e.is_usage() { 2 } else { 1 })
        }
    }
}
