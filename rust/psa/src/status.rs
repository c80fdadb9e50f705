//! PSA status codes (PSA Certified Status code API, `psa/error.h`).

/// A `psa_status_t`: zero is success, negative values are errors.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Status(pub i32);

macro_rules! statuses {
    ($($name:ident = $value:expr,)*) => {
        impl Status {
            $(pub const $name: Status = Status($value);)*

            /// The C macro's name without its `PSA_` prefix, for logs and the shell.
            pub fn name(self) -> Option<&'static str> {
                match self.0 {
                    $($value => Some(stringify!($name)),)*
                    _ => None,
                }
            }
        }
    };
}

statuses! {
    SUCCESS = 0,
    ERROR_PROGRAMMER_ERROR = -129,
    ERROR_CONNECTION_REFUSED = -130,
    ERROR_CONNECTION_BUSY = -131,
    ERROR_GENERIC_ERROR = -132,
    ERROR_NOT_PERMITTED = -133,
    ERROR_NOT_SUPPORTED = -134,
    ERROR_INVALID_ARGUMENT = -135,
    ERROR_INVALID_HANDLE = -136,
    ERROR_BAD_STATE = -137,
    ERROR_BUFFER_TOO_SMALL = -138,
    ERROR_ALREADY_EXISTS = -139,
    ERROR_DOES_NOT_EXIST = -140,
    ERROR_INSUFFICIENT_MEMORY = -141,
    ERROR_INSUFFICIENT_STORAGE = -142,
    ERROR_INSUFFICIENT_DATA = -143,
    ERROR_SERVICE_FAILURE = -144,
    ERROR_COMMUNICATION_FAILURE = -145,
    ERROR_STORAGE_FAILURE = -146,
    ERROR_HARDWARE_FAILURE = -147,
    ERROR_INSUFFICIENT_ENTROPY = -148,
    ERROR_INVALID_SIGNATURE = -149,
    ERROR_INVALID_PADDING = -150,
    ERROR_CORRUPTION_DETECTED = -151,
    ERROR_DATA_CORRUPT = -152,
    ERROR_DATA_INVALID = -153,
}

impl Status {
    pub fn is_success(self) -> bool {
        self.0 >= 0
    }
}

impl core::fmt::Debug for Status {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        core::fmt::Display::fmt(self, f)
    }
}

impl core::fmt::Display for Status {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self.name() {
            Some(name) => write!(f, "PSA_{name} ({})", self.0),
            None => write!(f, "status {}", self.0),
        }
    }
}
