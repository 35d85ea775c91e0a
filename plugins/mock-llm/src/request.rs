//! Plain request, response and error types, free of the WIT bindings so they test natively.

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    System,
    User,
    Assistant,
}

#[derive(Clone, Debug)]
pub struct Message {
    pub role: Role,
    pub content: String,
}

#[derive(Clone, Debug, Default)]
pub struct Request {
    pub model: Option<String>,
    pub messages: Vec<Message>,
    pub json_schema: Option<String>,
    pub temperature: Option<f32>,
    pub max_tokens: Option<u32>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Finish {
    Stop,
    Length,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Response {
    pub text: String,
    pub model: String,
    pub finish: Finish,
    pub input_tokens: u64,
    pub output_tokens: u64,
}

pub use guest_support::failure::{Failure, FailureKind};
