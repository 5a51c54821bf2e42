//! Plain Parquet in a hive layout (`<table>/<partition>/part-NNNNN.parquet`): the table's
//! contract in `<table>/_table.json`, each committed partition marked by a `_SUCCESS` manifest
//! written last (`commit.rs`).

mod commit;

use crate::contract::{self, ContractCheck, TableContract, CONTRACT};
use crate::file::SinkError;
use crate::lock::TableLock;
use crate::partition::{Committed, Manifest, PartitionWriter, MANIFEST};
use crate::sink::{CommittedPartition, Sink, TableOverview, WriteMode};

use super::api::{Compared, TableFormat};
use super::delta::Delta;
use super::kind::Format;

/// The hive layout with `_SUCCESS` manifests.
pub(crate) struct Hive;

impl TableFormat for Hive {
    const FORMAT: Format = Format::Parquet;

    async fn exists(sink: &Sink, table: &str) -> Result<bool, SinkError> {
        Ok(sink
            .store
            .get_bytes(&format!("{table}/{CONTRACT}"))
            .await?
            .is_some())
    }

    async fn contract(sink: &Sink, table: &str) -> Result<Option<TableContract>, SinkError> {
        let rel = format!("{table}/{CONTRACT}");
        match sink.store.get_bytes(&rel).await? {
            None if Delta::exists(sink, table).await? => Ok(Some(TableContract::default())),
            None => Ok(None),
            Some(bytes) => contract::parse(&rel, &bytes).map(Some),
        }
    }

    async fn compare(
        sink: &Sink,
        table: &str,
        contract: &TableContract,
        _rebuild: bool,
    ) -> Result<Compared, SinkError> {
        let rel = format!("{table}/{CONTRACT}");
        Ok(match sink.store.get_bytes(&rel).await? {
            None if Delta::exists(sink, table).await? => {
                Compared::other_format(Format::Delta, Self::FORMAT)
            }
            None => Compared::Missing,
            Some(bytes) => Compared::against(contract::parse(&rel, &bytes)?, contract),
        })
    }

    async fn partitions(sink: &Sink, table: &str) -> Result<Vec<String>, SinkError> {
        Ok(manifested(sink, table)
            .await?
            .into_iter()
            .flatten()
            .collect())
    }

    async fn open_locked(
        sink: &Sink,
        lock: &mut TableLock,
        table: &str,
        contract: &TableContract,
        rebuild: bool,
    ) -> Result<ContractCheck, SinkError> {
        let rel = format!("{table}/{CONTRACT}");
        let json = serde_json::to_vec_pretty(contract)
            .map_err(|e| SinkError::Options(format!("cannot encode the contract: {e}")))?;
        match Self::compare(sink, table, contract, rebuild).await? {
            Compared::Missing => {
                sink.put_table_file(&rel, &json).await?;
                Ok(ContractCheck::Created)
            }
            Compared::Same => Ok(ContractCheck::Matches),
            Compared::Differs { differences, .. } if !rebuild => {
                Err(sink.mismatch(table, differences))
            }
            Compared::Differs { other_format, .. } => {
                // A table of this format keeps its contract file until it is replaced.
                sink.delete_table(lock, table, !other_format).await?;
                lock.confirm().await?;
                sink.put_table_file(&rel, &json).await?;
                Ok(ContractCheck::Rebuilt)
            }
        }
    }

    async fn commit(writer: PartitionWriter<'_>, mode: WriteMode) -> Result<Committed, SinkError> {
        writer.commit_hive(mode).await
    }

    async fn overview(sink: &Sink, table: &str) -> Result<TableOverview, SinkError> {
        let rel = format!("{table}/{CONTRACT}");
        let mut unreadable = Vec::new();
        let contract = match sink.store.get_bytes(&rel).await? {
            None => None,
            Some(bytes) => match contract::parse(&rel, &bytes) {
                Ok(c) => Some(c),
                Err(e) => {
                    unreadable.push(format!("{CONTRACT}: {e}"));
                    None
                }
            },
        };
        let mut partitions = Vec::new();
        for partition in manifested(sink, table).await? {
            match sink.manifest(table, partition.as_deref()).await {
                Ok(Some(m)) => partitions.push(CommittedPartition {
                    partition,
                    rows: Some(m.rows),
                    files: m.files.len(),
                    run_id: Some(m.run_id),
                    written_ms: None,
                    metadata: m.metadata,
                }),
                Ok(None) => {}
                Err(e) => {
                    unreadable.push(format!("{}: {e}", partition.as_deref().unwrap_or(MANIFEST)))
                }
            }
        }
        Ok(TableOverview {
            format: Self::FORMAT,
            contract,
            partitions,
            unreadable,
        })
    }
}

/// The partitions of a table that hold a `_SUCCESS` manifest, sorted (`None`: the manifest of
/// an unpartitioned table).
async fn manifested(sink: &Sink, table: &str) -> Result<Vec<Option<String>>, SinkError> {
    let mut out: Vec<Option<String>> = sink
        .store
        .list_recursive(table)
        .await?
        .iter()
        .filter_map(|path| {
            let rest = path.strip_prefix(table)?.strip_prefix('/')?;
            if rest == MANIFEST {
                return Some(None);
            }
            let partition = rest.strip_suffix(MANIFEST)?.strip_suffix('/')?;
            (!partition.is_empty() && !partition.contains('/')).then(|| Some(partition.to_string()))
        })
        .collect();
    out.sort();
    out.dedup();
    Ok(out)
}

impl Sink {
    /// The manifest of a committed partition, if there is one.
    pub async fn manifest(
        &self,
        table: &str,
        partition: Option<&str>,
    ) -> Result<Option<Manifest>, SinkError> {
        let rel = match partition {
            Some(p) => format!("{table}/{p}/{MANIFEST}"),
            None => format!("{table}/{MANIFEST}"),
        };
        match self.store.get_bytes(&rel).await? {
            None => Ok(None),
            Some(bytes) => serde_json::from_slice(&bytes).map(Some).map_err(|e| {
                SinkError::Options(format!("the manifest {rel} is not valid JSON: {e}"))
            }),
        }
    }
}
