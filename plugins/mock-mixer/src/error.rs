//! The mixer's failure type, independent of the WIT bindings.

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum ErrorKind {
    /// The request or one of its inputs is wrong; retrying cannot help.
    InvalidRequest,
    /// Reading an input or writing the output through the host failed.
    Internal,
}

#[derive(Debug)]
pub struct MixError {
    pub kind: ErrorKind,
    pub message: String,
}

impl MixError {
    pub fn invalid(message: impl Into<String>) -> Self {
        Self {
            kind: ErrorKind::InvalidRequest,
            message: message.into(),
        }
    }

    pub fn internal(message: impl Into<String>) -> Self {
        Self {
            kind: ErrorKind::Internal,
            message: message.into(),
        }
    }
}
