//! Pipeline errors. Each says its class in the workspace's one classification
//! ([`cake_core::failure::Class`]): a failure of a lower layer keeps the class it has there.

use cake_core::failure::{Class, Classify};
use cake_sink::SinkError;
use cake_transport::TransportError;

use crate::decode::SpillError;
use crate::window::Inconsistency;

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PipelineError {
    #[error(transparent)]
    Transport(#[from] TransportError),
    #[error(transparent)]
    Spill(#[from] SpillError),
    /// A window's pages kept disagreeing with each other ([`crate::fetch_window`]).
    #[error("the answer for {url} was still inconsistent after {pulls} pull(s) of the whole window: {problem}; nothing of this window was written")]
    Inconsistent {
        url: String,
        pulls: u32,
        problem: Inconsistency,
    },
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
    Config(String), // String: a sentence composed from several values of the config
    /// The output's state cannot be trusted for this run.
    #[error("{0}")]
    State(String), // String: a sentence naming the state file and what is wrong in it
    #[error("stopped before the end: windows being fetched were abandoned and nothing of them was written")]
    Interrupted,
    /// The instance refused one form of requests and answered the other (see `check`).
    #[error(
        "the instance refused {} requests ({source}); it answers {} requests: run with \
         --protocol {works} (`protocol = \"{works}\"` in a sync config)",
        protocol_name(*refused),
        protocol_name(*works)
    )]
    ProtocolRefused {
        refused: cake_transport::Protocol,
        works: cake_transport::Protocol,
        #[source]
        source: TransportError,
    },
}

fn protocol_name(p: cake_transport::Protocol) -> &'static str {
    match p {
        cake_transport::Protocol::Soap => "SOAP 1.2",
        cake_transport::Protocol::Get => "HTTP GET",
    }
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
}

impl Classify for PipelineError {
    fn class(&self) -> Class {
        match self {
            PipelineError::Transport(e) => e.class(),
            PipelineError::Sink(e) => e.class(),
            PipelineError::Table { source, .. } => source.class(),
            PipelineError::Spill(_) | PipelineError::Io { .. } | PipelineError::Encode { .. } => {
                Class::Output
            }
            PipelineError::Config(_) | PipelineError::State(_) => Class::Usage,
            PipelineError::Inconsistent { .. } => Class::Inconsistent,
            PipelineError::Interrupted => Class::Interrupted,
            PipelineError::ProtocolRefused { .. } => Class::Usage,
        }
    }
}
