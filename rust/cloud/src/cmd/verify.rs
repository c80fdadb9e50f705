//! `cloud verify`: one result given on the command line, verified with the key given.
//! Exit codes: 0 accepted (the claims as one JSON line on stdout), 1 refused, 2 usage.

use std::io::{Read, Write};
use std::path::Path;

use cloud::{
    decode_file, decode_text, import_json_state, parse_key_id, time, verify, Accepted, DeviceKey, Error,
    Options, RecipientKey, Refusal, Store,
};

use super::{read, text, Failure};

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
--state: a folder holding the store (cloud.db, the one `cloud listen --db` uses, safe for
         concurrent processes): a result whose counter is at or below the last one stored
         for its device is refused, and only signed results are stored (a JSON state
         file <uuid>.json left there by an older cloud is imported as that device's floor)
Exit codes: 0 accepted (the claims as one JSON line), 1 refused (the reason on stderr),
2 usage (bad arguments, unreadable files, keys that are not the COSE SIGN key 0x5002)";

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
            "-h" | "--help" => return Err(Failure::Help(USAGE)),
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

fn check(args: Args) -> Result<String, Failure> {
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
    let recipient = args
        .recipient_key
        .as_deref()
        .map(|path| Ok::<_, Failure>(RecipientKey::from_pem(&text(path)?)?))
        .transpose()?;
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
    let mut store = args.state.as_deref().map(open_state).transpose()?;
    let checked = verify(&bytes, &device, recipient.as_ref(), &options).and_then(|verified| {
        match &mut store {
            // Unsigned (--allow-unsigned): anyone can write its counter, so it is
            // checked but never stored; a forged high one would refuse the device's
            // genuine results afterwards.
            Some(store) if verified.kid.is_none() => store.check(&verified)?,
            // The same result given twice is a replay here: no transport redelivers
            // (`cloud listen` acknowledges a QoS 1 redelivery instead).
            Some(store) => match store.accept(&verified, &bytes, "verify", time::now_ms())? {
                Accepted::Duplicate => store.check(&verified)?,
                Accepted::Stored => {}
            },
            None => {}
        }
        Ok(verified)
    });
    match (checked, &mut store) {
        (Ok(verified), _) => {
            Ok(serde_json::to_string(&verified).map_err(|e| Failure::Failed(e.to_string()))?)
        }
        (Err(e @ (Error::Store(_) | Error::StoreVersion { .. })), _) | (Err(e), None) => Err(e.into()),
        (Err(e), Some(store)) => {
            let reason = e.to_string();
            let refusal = Refusal {
                at_ms: time::now_ms(),
                via: "verify",
                topic: None,
                device: None,
                reason: &reason,
                payload: &bytes,
            };
            store.refuse(&refusal)?;
            Err(e.into())
        }
    }
}

/// The store in `--state DIR` (made if missing), with any JSON state files there
/// imported.
fn open_state(dir: &str) -> Result<Store, Failure> {
    let dir = Path::new(dir);
    std::fs::create_dir_all(dir).map_err(|e| Error::State(dir.into(), e))?;
    let mut store = Store::open(&dir.join("cloud.db"))?;
    import_json_state(dir, &mut store, time::now_ms())?;
    Ok(store)
}

pub fn run(argv: impl Iterator<Item = String>) -> Result<(), Failure> {
    let json = check(parse(argv)?)?;
    // A closed stdout (a pipe to `head`) is not worth a panic.
    let _ = writeln!(std::io::stdout(), "{json}");
    Ok(())
}
