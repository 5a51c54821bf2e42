//! Pipeline errors and their classes.

use cake_transport::TransportError;

use crate::decode::SpillError;

/// The class of a failed job, for exit codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureKind {
    Authentication,
    UnknownHost,
    Connection,
    Tls,
    Timeout,
    /// The reply is not a Cake API response, or its rows cannot be decoded.
    NotCake,
    /// Cake refused the request.
    Rejected,
    /// Cake kept failing or throttling until retries ran out.
    Unavailable,
    /// Writing the output (or local temporary files) failed.
    Output,
    /// Bad configuration.
    Config,
}

#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    #[error(transparent)]
    Transport(#[from] TransportError),
    #[error(transparent)]
    Spill(#[from] SpillError),
    #[error("{0}")]
    Output(String),
    #[error("{0}")]
    Config(String),
}

impl PipelineError {
    pub fn kind(&self) -> FailureKind {
        use cake_transport::ErrorKind as K;
        match self {
            PipelineError::Transport(e) => match e.kind() {
                K::Authentication => FailureKind::Authentication,
                K::UnknownHost => FailureKind::UnknownHost,
                K::Connection => FailureKind::Connection,
                K::Tls => FailureKind::Tls,
                K::Timeout => FailureKind::Timeout,
                K::NotCake | K::Paging => FailureKind::NotCake,
                K::Rejected => FailureKind::Rejected,
                K::Unavailable => FailureKind::Unavailable,
            },
            PipelineError::Spill(_) | PipelineError::Output(_) => FailureKind::Output,
            PipelineError::Config(_) => FailureKind::Config,
        }
    }
}
