//! Operations on a whole table: its contract (`_table.json`, or a Delta table's properties),
//! its committed partitions, what it holds whatever its format, and its deletion for a
//! rebuild. Opening a table under a contract happens under the table's lock.

use std::fs;
use std::sync::atomic::Ordering;

use crate::contract::{self, ContractCheck, TableContract, CONTRACT};
use crate::delta::{contract_of, format_difference, DeltaTable, Format, DELTA_LOG};
use crate::file::SinkError;
use crate::lock::TableLock;
use crate::partition::{Manifest, MANIFEST};
use crate::sink::{check_name, CommittedPartition, Sink, TableOverview, FILES};
use crate::store::{sync_dir, write_atomic};

/// What a table holds against a run's contract ([`Sink::compare_table`]).
pub(crate) enum Compared {
    /// No table of this name.
    Missing,
    /// A table with the run's contract.
    Same,
    /// A table with another contract: `other_format` when it is a table of the other format.
    Differs {
        differences: Vec<crate::contract::ContractDifference>,
        other_format: bool,
    },
}

impl Sink {
    /// The contract stored with `table` (`<table>/_table.json`), if it has one.
    ///
    /// With [`Format::Delta`], the contract is the Delta table's `cake.*` properties. A table
    /// of the other format counts as one with a contract (an empty one when it has none), so
    /// that [`Sink::open_table`] refuses it (or rebuilds it).
    pub async fn table_contract(&self, table: &str) -> Result<Option<TableContract>, SinkError> {
        check_name(table)?;
        if self.options.format == Format::Delta {
            return self.delta_table_contract(table).await;
        }
        let rel = format!("{table}/{CONTRACT}");
        match self.store.get_bytes(&rel).await? {
            None if self.has_delta_log(table).await? => Ok(Some(TableContract::default())),
            None => Ok(None),
            Some(bytes) => contract::parse(&rel, &bytes).map(Some),
        }
    }

    /// What [`Sink::open_table`] would find for `contract`, without locking or writing
    /// anything (a dry run): [`ContractCheck::Created`] for a table that does not exist yet,
    /// [`ContractCheck::Matches`], or with `rebuild` [`ContractCheck::Rebuilt`] for a table
    /// whose contract differs; without `rebuild` a differing table is the error a real run
    /// gets.
    pub async fn preview_table(
        &self,
        table: &str,
        contract: &TableContract,
        rebuild: bool,
    ) -> Result<ContractCheck, SinkError> {
        check_name(table)?;
        let compared = self.compare_table(table, contract, rebuild).await?;
        match compared {
            Compared::Missing => Ok(ContractCheck::Created),
            Compared::Same => Ok(ContractCheck::Matches),
            Compared::Differs { .. } if rebuild => Ok(ContractCheck::Rebuilt),
            Compared::Differs { differences, .. } => Err(self.mismatch(table, differences)),
        }
    }

    /// What `table` holds against a run's `contract`, read only: the one decision the open
    /// paths of both formats and [`Sink::preview_table`] act on. A table of the other format
    /// differs by its format; a Delta log that cannot be read is refused unless `rebuild`.
    pub(crate) async fn compare_table(
        &self,
        table: &str,
        contract: &TableContract,
        rebuild: bool,
    ) -> Result<Compared, SinkError> {
        let rel = format!("{table}/{CONTRACT}");
        let against = |stored: TableContract| {
            if stored == *contract {
                Compared::Same
            } else {
                Compared::Differs {
                    differences: stored.differences(contract),
                    other_format: false,
                }
            }
        };
        let other_format = |from, to| Compared::Differs {
            differences: vec![format_difference(from, to)],
            other_format: true,
        };
        Ok(match self.options.format {
            Format::Parquet => match self.store.get_bytes(&rel).await? {
                None if self.has_delta_log(table).await? => {
                    other_format(Format::Delta, Format::Parquet)
                }
                None => Compared::Missing,
                Some(bytes) => against(contract::parse(&rel, &bytes)?),
            },
            Format::Delta => match self.delta_table(table).await? {
                DeltaTable::Missing if self.store.get_bytes(&rel).await?.is_some() => {
                    other_format(Format::Parquet, Format::Delta)
                }
                DeltaTable::Missing => Compared::Missing,
                DeltaTable::Found(snapshot) => against(contract_of(&snapshot)),
                DeltaTable::Unreadable(why) if !rebuild => {
                    return Err(SinkError::Delta {
                        location: self.store.location_of(table),
                        message: format!(
                            "its Delta log cannot be read ({why}); if a rebuild was \
                             interrupted, rebuild the table again"
                        ),
                    });
                }
                DeltaTable::Unreadable(_) => Compared::Differs {
                    differences: Vec::new(),
                    other_format: false,
                },
            },
        })
    }

    /// The refusal of a run whose contract differs from `table`'s.
    pub(crate) fn mismatch(
        &self,
        table: &str,
        differences: Vec<crate::contract::ContractDifference>,
    ) -> SinkError {
        SinkError::ContractMismatch {
            table: table.to_string(),
            location: self.store.location_of(table),
            differences,
        }
    }

    /// The committed partitions of `table` (`date=2024-01-31`, ...), sorted: the directories
    /// that hold a `_SUCCESS` manifest, or with [`Format::Delta`] the partitions of the
    /// table's current files.
    pub async fn partitions(&self, table: &str) -> Result<Vec<String>, SinkError> {
        check_name(table)?;
        if self.options.format == Format::Delta {
            return self.delta_partitions(table).await;
        }
        Ok(self
            .manifested(table)
            .await?
            .into_iter()
            .flatten()
            .collect())
    }

    /// The partitions of a Parquet table that hold a `_SUCCESS` manifest, sorted (`None`: the
    /// manifest of an unpartitioned table).
    async fn manifested(&self, table: &str) -> Result<Vec<Option<String>>, SinkError> {
        let mut out: Vec<Option<String>> = self
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
                (!partition.is_empty() && !partition.contains('/'))
                    .then(|| Some(partition.to_string()))
            })
            .collect();
        out.sort();
        out.dedup();
        Ok(out)
    }

    /// What `table` holds, in whichever format it was written (a table with a Delta log is
    /// read as Delta, whatever this sink's own format): its contract and its committed
    /// partitions. Nothing is locked; a partition being committed may or may not be listed.
    pub async fn overview(&self, table: &str) -> Result<TableOverview, SinkError> {
        check_name(table)?;
        if self.has_delta_log(table).await? {
            return self.delta_overview(table).await;
        }
        let rel = format!("{table}/{CONTRACT}");
        let mut unreadable = Vec::new();
        let contract = match self.store.get_bytes(&rel).await? {
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
        for partition in self.manifested(table).await? {
            match self.manifest(table, partition.as_deref()).await {
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
            format: Format::Parquet,
            contract,
            partitions,
            unreadable,
        })
    }

    /// Opens `table` under `contract`, under the table's lock. Without a stored contract,
    /// writes this one ([`ContractCheck::Created`]); with an equal one,
    /// [`ContractCheck::Matches`]. With a different one: when `rebuild`, deletes every object
    /// of the table (its partitions, manifests and old contract) and writes this one
    /// ([`ContractCheck::Rebuilt`]); otherwise fails with [`SinkError::ContractMismatch`],
    /// which lists the differing fields, and changes nothing.
    ///
    /// The sink remembers the contract: every later commit of the table checks, under the
    /// lock, that the stored contract is still this one (another run may have rebuilt the
    /// table under another contract in the meantime) and refuses otherwise.
    pub async fn open_table(
        &self,
        table: &str,
        contract: &TableContract,
        rebuild: bool,
    ) -> Result<ContractCheck, SinkError> {
        check_name(table)?;
        let mut lock = self.lock_table(table, None).await?;
        let result = self
            .open_table_locked(&mut lock, table, contract, rebuild)
            .await;
        lock.release().await;
        let check = result?;
        self.contracts
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(table.to_string(), contract.clone());
        Ok(check)
    }

    async fn open_table_locked(
        &self,
        lock: &mut TableLock,
        table: &str,
        contract: &TableContract,
        rebuild: bool,
    ) -> Result<ContractCheck, SinkError> {
        if self.options.format == Format::Delta {
            return self
                .open_delta_table_locked(lock, table, contract, rebuild)
                .await;
        }
        let rel = format!("{table}/{CONTRACT}");
        let json = serde_json::to_vec_pretty(contract)
            .map_err(|e| SinkError::Options(format!("cannot encode the contract: {e}")))?;
        match self.compare_table(table, contract, rebuild).await? {
            Compared::Missing => {
                self.put_table_file(&rel, &json).await?;
                Ok(ContractCheck::Created)
            }
            Compared::Same => Ok(ContractCheck::Matches),
            Compared::Differs { differences, .. } if !rebuild => {
                Err(self.mismatch(table, differences))
            }
            Compared::Differs { other_format, .. } => {
                // A table of this format keeps its contract file until it is replaced.
                self.delete_table(lock, table, !other_format).await?;
                lock.confirm().await?;
                self.put_table_file(&rel, &json).await?;
                Ok(ContractCheck::Rebuilt)
            }
        }
    }

    /// Writes a file at a table's root atomically. Locally its temporary copy is written in
    /// this run's staging directory, so a run killed in the middle leaves nothing in the table
    /// (a temporary file beside the target would stay there).
    async fn put_table_file(&self, rel: &str, bytes: &[u8]) -> Result<(), SinkError> {
        match self.store.local_root() {
            Some(root) => {
                let target = root.join(rel);
                let temp = self.staging.dir.join(format!(
                    "table-file{}",
                    FILES.fetch_add(1, Ordering::Relaxed)
                ));
                write_atomic(&temp, bytes)?;
                let io = |source| SinkError::Io {
                    path: target.clone(),
                    source,
                };
                let dir = target.parent().unwrap_or(root);
                fs::create_dir_all(dir).map_err(io)?;
                fs::rename(&temp, &target).map_err(io)?;
                sync_dir(dir)
            }
            None => self.store.put_bytes(rel, bytes.to_vec()).await,
        }
    }

    /// Deletes every object of `table` but, with `keep_contract`, its `_table.json`, which the
    /// caller overwrites next (so a rebuild interrupted here still fails the old contract's
    /// check): locally the table's directory is moved into staging whole and removed; on
    /// object storage a Delta log goes first (`_last_checkpoint`, then the log's entries in
    /// order, so that the table stops being readable at once), then the manifests (readers
    /// that wait for `_SUCCESS` stop reading), then the other objects.
    pub(crate) async fn delete_table(
        &self,
        lock: &mut TableLock,
        table: &str,
        keep_contract: bool,
    ) -> Result<(), SinkError> {
        match self.store.local_root() {
            Some(root) => {
                let dir = root.join(table);
                let contract = match keep_contract {
                    true => self.store.get_bytes(&format!("{table}/{CONTRACT}")).await?,
                    false => None,
                };
                let trash = self
                    .staging
                    .dir
                    .join(format!("trash{}", FILES.fetch_add(1, Ordering::Relaxed)));
                match fs::rename(&dir, &trash) {
                    Ok(()) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
                    Err(source) => return Err(SinkError::Io { path: dir, source }),
                }
                sync_dir(root)?;
                // The old contract stays in place until the new one replaces it.
                if let Some(bytes) = contract {
                    self.put_table_file(&format!("{table}/{CONTRACT}"), &bytes)
                        .await?;
                }
                fs::remove_dir_all(&trash).map_err(|source| SinkError::Io {
                    path: trash.clone(),
                    source,
                })
            }
            None => {
                let all = self.store.list_recursive(table).await?;
                let contract = format!("{table}/{CONTRACT}");
                let log = format!("{table}/{DELTA_LOG}/");
                let rank = |rel: &str| {
                    if rel == contract {
                        4
                    } else if rel == format!("{log}_last_checkpoint") {
                        0
                    } else if rel.starts_with(&log) {
                        1
                    } else if rel.rsplit('/').next() == Some(MANIFEST) {
                        2
                    } else {
                        3
                    }
                };
                let mut order: Vec<(u8, &String)> = all
                    .iter()
                    .filter(|rel| !(keep_contract && **rel == contract))
                    .map(|rel| (rank(rel), rel))
                    .collect();
                order.sort();
                for (_, rel) in order {
                    lock.keep().await?;
                    self.store.delete(rel).await?;
                }
                Ok(())
            }
        }
    }

    /// Under the table's lock: refuses a commit when this sink opened the table with a
    /// contract and the stored one is no longer it.
    pub(crate) async fn check_contract(&self, table: &str) -> Result<(), SinkError> {
        let expected = self
            .contracts
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(table)
            .cloned();
        let Some(expected) = expected else {
            return Ok(());
        };
        let stored = self.table_contract(table).await?.unwrap_or_default();
        if stored == expected {
            return Ok(());
        }
        Err(SinkError::ContractMismatch {
            table: table.to_string(),
            location: self.store.location_of(table),
            differences: stored.differences(&expected),
        })
    }

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
