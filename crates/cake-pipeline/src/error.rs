//! Pipeline errors and their classes: the one classification of every failure of the
//! workspace (transport, decoder, sink, pipeline), from which the binary derives its exit codes.

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
    /// Reading or writing local files failed: the output, temporary files, a saved response.
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
    /// A local file or directory cannot be written.
    #[error("cannot write {}: {source}; give a place you can write to", path.display())]
    Io {
        path: std::path::PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A document of the output cannot be encoded.
    #[error("cannot encode {what}: {source}")]
    Encode {
        what: &'static str,
        #[source]
        source: serde_json::Error,
    },
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
        match self {
            PipelineError::Transport(e) => FailureKind::of_transport(e.kind()),
            PipelineError::Sink(e) if e.is_usage() => FailureKind::Config,
            PipelineError::Table { source, .. }
                if matches!(**source, SinkError::ContractMismatch { .. }) =>
            {
                FailureKind::Config
            }
            PipelineError::Spill(_)
            | PipelineError::Sink(_)
            | PipelineError::Table { .. }
            | PipelineError::Io { .. }
            | PipelineError::Encode { .. } => FailureKind::Output,
            PipelineError::Config(_) | PipelineError::State(_) => FailureKind::Config,
            PipelineError::Interrupted => FailureKind::Interrupted,
        }
    }
}

impl FailureKind {
    /// The class of a transport failure.
    pub fn of_transport(kind: cake_transport::ErrorKind) -> FailureKind {
        use cake_transport::ErrorKind as K;
        match kind {
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
        }
    }

    /// The class of a decoder failure outside a pull (a saved response being converted).
    pub fn of_decode(kind: cake_arrow::ErrorKind) -> FailureKind {
        use cake_arrow::ErrorKind as K;
        match kind {
            K::Authentication => FailureKind::Authentication,
            K::Throttled | K::Transient => FailureKind::Unavailable,
            K::Request | K::Unclassified => FailureKind::Rejected,
            K::Io => FailureKind::Output,
            _ => FailureKind::NotCake,
        }
    }

    /// The class of an error of this workspace, found by type: `None` for any other error.
    pub fn of(e: &(dyn std::error::Error + 'static)) -> Option<FailureKind> {
        if let Some(e) = e.downcast_ref::<PipelineError>() {
            return Some(e.kind());
        }
        if let Some(e) = e.downcast_ref::<TransportError>() {
            return Some(FailureKind::of_transport(e.kind()));
        }
        if let Some(e) = e.downcast_ref::<SinkError>() {
            return Some(if e.is_usage() {
                FailureKind::Config
            } else {
                FailureKind::Output
            });
        }
        if let Some(e) = e.downcast_ref::<cake_arrow::DecodeError>() {
            return Some(FailureKind::of_decode(e.kind()));
        }
        if let Some(e) = e.downcast_ref::<crate::convert::ConvertError>() {
            return Some(match e {
                crate::convert::ConvertError::Open { .. } => FailureKind::Config,
                crate::convert::ConvertError::Decode { source, .. } => {
                    FailureKind::of_decode(source.kind())
                }
                crate::convert::ConvertError::Write { source, .. } => {
                    return FailureKind::of(source);
                }
            });
        }
        if e.downcast_ref::<SpillError>().is_some() {
            return Some(FailureKind::Output);
        }
        None
    }

    /// The class of the first error of this workspace in `e`'s chain of causes.
    pub fn of_chain(e: &(dyn std::error::Error + 'static)) -> Option<FailureKind> {
        let mut cause = Some(e);
        while let Some(c) = cause {
            if let Some(kind) = FailureKind::of(c) {
                return Some(kind);
            }
            cause = c.source();
        }
        None
    }
}
