//! `print!`/`println!` over semihosting, and a formatting-free printer for strings
//! and integers ([`Console::put`], [`Console::put_u32`], [`Console::put_i32`]): the
//! runtime's own reports (stack peak, faults, the terse panic handler) use it, so an
//! image that formats nothing itself links no `core::fmt`.

use core::fmt;

/// Buffers formatted text and hands it to the host a line (or 128 bytes) at a time,
/// since each semihosting call costs a trap.
pub struct Console {
    buf: [u8; 128],
    len: usize,
}

impl Console {
    pub const fn new() -> Self {
        Console { buf: [0; 128], len: 0 }
    }

    /// Hands the buffered text to the host (not inlined: its chunk buffer stays out
    /// of the callers' frames).
    #[inline(never)]
    pub fn flush(&mut self) {
        crate::semihosting::write_bytes(self.buf.get(..self.len).unwrap_or_default());
        self.len = 0;
    }

    #[inline(always)]
    fn put_byte(&mut self, b: u8) {
        if self.len >= self.buf.len() {
            self.flush();
        }
        if let Some(slot) = self.buf.get_mut(self.len) {
            *slot = b;
            self.len += 1;
        }
        if b == b'\n' {
            self.flush();
        }
    }

    /// Appends `s`; a full buffer or a newline hands the text to the host.
    pub fn put(&mut self, s: &str) -> &mut Self {
        for &b in s.as_bytes() {
            self.put_byte(b);
        }
        self
    }

    /// Appends `n` in decimal (as `{}` formats it, without `core::fmt`).
    pub fn put_u32(&mut self, n: u32) -> &mut Self {
        let mut digits = [0u8; 10];
        let (mut n, mut start) = (n, digits.len());
        while let Some(i) = start.checked_sub(1) {
            digits[i] = b'0' + (n % 10) as u8;
            (n, start) = (n / 10, i);
            if n == 0 {
                break;
            }
        }
        for &d in digits.get(start..).unwrap_or(&[]) {
            self.put_byte(d);
        }
        self
    }

    /// Appends `n` in decimal, with a minus sign when negative.
    pub fn put_i32(&mut self, n: i32) -> &mut Self {
        if n < 0 {
            self.put_byte(b'-');
        }
        self.put_u32(n.unsigned_abs())
    }
}

impl Default for Console {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Write for Console {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.put(s);
        Ok(())
    }
}

impl Drop for Console {
    fn drop(&mut self) {
        self.flush();
    }
}

#[macro_export]
macro_rules! print {
    ($($arg:tt)*) => {{
        let _ = core::fmt::Write::write_fmt(&mut $crate::console::Console::new(), format_args!($($arg)*));
    }};
}

#[macro_export]
macro_rules! println {
    ($($arg:tt)*) => {{
        let mut console = $crate::console::Console::new();
        let _ = core::fmt::Write::write_fmt(&mut console, format_args!($($arg)*));
        let _ = core::fmt::Write::write_str(&mut console, "\n");
    }};
}
