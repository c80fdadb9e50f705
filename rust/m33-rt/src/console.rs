//! `print!`/`println!` over semihosting.

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

    pub fn flush(&mut self) {
        crate::semihosting::write_bytes(&self.buf[..self.len]);
        self.len = 0;
    }
}

impl Default for Console {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Write for Console {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        for &b in s.as_bytes() {
            if self.len == self.buf.len() {
                self.flush();
            }
            self.buf[self.len] = b;
            self.len += 1;
            if b == b'\n' {
                self.flush();
            }
        }
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
