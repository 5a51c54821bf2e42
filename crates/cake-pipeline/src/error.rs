//! Pipeline errors and their classes.

use cake_sink::SinkError;
use cake_transport::TransportError;

use crate::decode::SpillError;

/// The class of a failed job, for exit codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum FailureKind {
    Authentication,
    UnknownHost,
    Connection,
    Tls,
    Timeout,
    /// The reply is not a Cake API response, cannot be decoded, or is the answer to another
    /// request.
    NotCake,
    /// A window's answer stayed inconsistent through its re-pulls.
    Inconsistent,
    /// Cake refused the request.
    Rejected,
    /// Cake kept failing or throttling until retries ran out.
    Unavailable,
    /// Writing the output (or local temporary files) failed.
    Output,
    /// Bad configuration, or a run the output refuses (another table contract, a state from
    /// the future): nothing was sent.
    Config,
    /// The job was stopped from outside before it finished.
    Interrupted,
}

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PipelineError {
    #[error(transparent)]
    Transport(#[from] TransportError),
    #[error(transparent)]
    Spill(#[from] SpillError),
    #[error(transparent)]
    Sink(Box<SinkError>),
    /// The table refuses this run (its contract differs, or another run holds it). A table
    /// with another contract takes this run under another name (the `table` option) or once
    /// rebuilt (the `rebuild` option, which deletes what it holds).
    #[error("cannot write the table {table}")]
    Table {
        table: String,
        #[source]
        source: Box<SinkError>,
    },
    #[error("{0}")]
    Output(String),
    #[error("{0}")]
    Config(String),
    /// The output's state cannot be trusted for this run.
    #[error("{0}")]
    State(String),
    #[error("stopped before the end: windows being fetched were abandoned and nothing of them was written")]
    Interrupted,
}

impl From<SinkError> for PipelineError {
    fn from(e: SinkError) -> PipelineError {
        PipelineError::Sink(Box::new(e))
    }
}

impl PipelineError {
    /// A refusal by `table` (contract, lock) or another output failure.
    pub(crate) fn table(table: &str, source: SinkError) -> PipelineError {
        match source {
            SinkError::ContractMismatch { .. } | SinkError::Locked { .. } => PipelineError::Table {
                table: table.to_string(),
                source: Box::new(source),
            },
            other => PipelineError::from(other),
        }
    }

    pub fn kind(&self) -> FailureKind {
        use cake_transport::ErrorKind as K;
        match self {
            PipelineError::Transport(e) => match e.kind() {
                K::Authentication => FailureKind::Authentication,
                K::UnknownHost => FailureKind::UnknownHost,
                K::Connection => FailureKind::Connection,
                K::Tls => FailureKind::Tls,
                K::Timeout => FailureKind::Timeout,
                K::Inconsistent => FailureKind::Inconsistent,
                K::Rejected => FailureKind::Rejected,
                K::Unavailable => FailureKind::Unavailable,
                K::Local => FailureKind::Output,
                _ => FailureKind::NotCake,
            },
            PipelineError::Sink(e) if e.is_usage() => FailureKind::Config,
            PipelineError::Table { source, .. }
                if matches!(**source, SinkError::ContractMismatch { .. }) =>
            {
                FailureKind::Config
            }
            PipelineError::Spill(_)
            | PipelineError::Sink(_)
            | PipelineError::Table { .. }
            | PipelineError::Output(_) => FailureKind::Output,
            PipelineError::Config(_) | PipelineError::State(_) => FailureKind::Config,
            PipelineError::Interrupted => FailureKind::Interrupted,
        }
    }
}
