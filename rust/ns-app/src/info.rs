//! `info` commands.

use crate::shell::{Context, Failed};
use core::fmt::Write;

/// `info version`: this application's version, the framework's, and the version of
/// each secure service this application uses (0: absent or refused).
pub fn version(ctx: &mut Context<'_>, _args: &[&str], out: &mut dyn Write) -> Result<(), Failed> {
    let fw = ctx.client.framework_version();
    if fw == psa::VERSION_NONE {
        let _ = writeln!(out, "error: the secure world does not answer");
        return Err(Failed);
    }
    let _ = writeln!(out, "Firmware: secure-inference {}", crate::VERSION);
    let _ = writeln!(out, "PSA Firmware Framework: {}.{}", fw >> 8, fw & 0xff);
    for service in secure_api::SERVICES {
        let v = ctx.client.version(service.sid);
        let state = if v == psa::VERSION_NONE { "absent" } else { "ok" };
        let _ = writeln!(out, "  {:<24} SID {:#010x}  version {}  {}", service.name, service.sid.0, v, state);
    }
    Ok(())
}

/// `info uuid`: the device's UUID, derived from the HUK in the secure world.
pub fn uuid(ctx: &mut Context<'_>, _args: &[&str], out: &mut dyn Write) -> Result<(), Failed> {
    use secure_api::identity as api;
    let mut uuid = [0u8; 16];
    match ctx.client.call(api::SERVICE.handle(), api::UUID, &[], &mut [&mut uuid]) {
        Ok(reply) if reply.out_len[0] == 16 => {
            let _ = write_uuid(&uuid, out);
            let _ = writeln!(out);
            Ok(())
        }
        Ok(_) => {
            let _ = writeln!(out, "Error: UUID: malformed reply");
            Err(Failed)
        }
        Err(status) => {
            let _ = writeln!(out, "Error: UUID: {status}");
            Err(Failed)
        }
    }
}

/// A UUID in its lowercase hyphenated form.
pub(crate) fn write_uuid(uuid: &[u8; 16], out: &mut dyn Write) -> core::fmt::Result {
    for (i, b) in uuid.iter().enumerate() {
        let sep = if matches!(i, 4 | 6 | 8 | 10) { "-" } else { "" };
        write!(out, "{sep}{b:02x}")?;
    }
    Ok(())
}
