//! The formats a table is written in, named once.

/// How a sink writes its tables (`parquet` or `delta` in configuration files).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// Plain Parquet in a hive layout, each partition with a `_SUCCESS` manifest (the default:
    /// what every Parquet reader reads).
    #[default]
    Parquet,
    /// A Delta Lake table per table: atomic commits, concurrent writers, history.
    Delta,
}

impl Format {
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Parquet => "parquet",
            Format::Delta => "delta",
        }
    }

    /// What tables of this format are, in a sentence's words (`Delta tables`).
    pub fn described(self) -> &'static str {
        match self {
            Format::Parquet => "Parquet",
            Format::Delta => "Delta tables",
        }
    }

    /// A command that reads the table at `path` (a directory or URL) of this format, for people
    /// to try: DuckDB over the hive layout, or the `deltalake` package over a Delta table.
    pub fn try_reading(self, path: &str) -> String {
        match self {
            Format::Parquet => format!(
                "duckdb -c \"SELECT count(*) FROM read_parquet('{path}/*/*.parquet', hive_partitioning = true)\""
            ),
            Format::Delta => format!(
                "python -c \"import deltalake; print(deltalake.DeltaTable('{path}').to_pyarrow_table().num_rows)\""
            ),
        }
    }
}

impl std::fmt::Display for Format {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Format {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "parquet" => Ok(Format::Parquet),
            "delta" => Ok(Format::Delta),
            other => Err(format!("invalid format `{other}`: use parquet or delta")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_parse_and_print() {
        assert_eq!("Delta".parse::<Format>(), Ok(Format::Delta));
        assert_eq!(" parquet ".parse::<Format>(), Ok(Format::Parquet));
        assert!("iceberg".parse::<Format>().is_err());
        assert_eq!(Format::default().to_string(), "parquet");
    }
}
