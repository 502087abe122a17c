//! The media settings (`MAX_UPLOAD_SIZE`, `MEDIA_TYPES`, `CLAMD_ADDR`, retention), flattened
//! into [`crate::config::Config`].

use clap::Args;

/// Types accepted by default, by the extension the `infer` crate gives them.
pub const DEFAULT_TYPES: &str = "jpg,png,gif,webp,pdf,doc,docx,zip";

/// Settings of uploads.
#[derive(Debug, Clone, Args)]
pub struct MediaConfig {
    /// Largest upload in bytes (suffixes K, M, G are binary: 10M = 10485760). A larger one is
    /// refused with `413 too_large` while it streams.
    #[arg(long, env = "MAX_UPLOAD_SIZE", default_value = "10M", value_parser = parse_size)]
    pub max_upload_size: u64,
    /// Types accepted, decided by the file's magic bytes, never its name: a comma-separated
    /// list of jpg, png, gif, webp, pdf, doc, docx, zip (and other names the `infer` crate
    /// knows, e.g. mp4, mp3, ogg). Others get `415 unsupported_media_type`.
    #[arg(long, env = "MEDIA_TYPES", default_value = DEFAULT_TYPES, value_parser = parse_types)]
    pub media_types: MediaTypes,
    /// Scan every upload with clamd before storing it: `host:port` or a unix socket path. A
    /// detection is `422 malware_detected`; clamd unreachable is `503 scanner_unavailable`.
    #[arg(long, env = "CLAMD_ADDR")]
    pub clamd_addr: Option<String>,
    /// Store media in an S3-compatible bucket instead of DATA_DIR/media: `s3://bucket/prefix`.
    /// Credentials, region and endpoint come from AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,
    /// AWS_REGION and AWS_ENDPOINT_URL (plain http:// allowed, for a local store).
    #[arg(long, env = "MEDIA_S3_URL")]
    pub media_s3_url: Option<String>,
    /// Hours an upload that no message refers to is kept before the retention worker removes
    /// it (also once the last message that shared it is deleted).
    #[arg(long, env = "MEDIA_GRACE_HOURS", default_value_t = 24, value_parser = clap::value_parser!(u64).range(0..=87_600))]
    pub media_grace_hours: u64,
}

impl MediaConfig {
    /// The default `MEDIA_TYPES`.
    pub fn default_types() -> MediaTypes {
        parse_types(DEFAULT_TYPES).unwrap_or(MediaTypes(Vec::new()))
    }

    /// `MEDIA_S3_URL`, when set and not empty.
    pub fn s3_url(&self) -> Option<&str> {
        self.media_s3_url
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
    }

    /// `CLAMD_ADDR`, when set and not empty.
    pub fn clamd(&self) -> Option<&str> {
        self.clamd_addr
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
    }
}

/// The accepted type names (lower-case extensions).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaTypes(pub Vec<String>);

impl MediaTypes {
    /// Whether `extension` (as `infer` names it) is accepted.
    pub fn allows(&self, extension: &str) -> bool {
        self.0.iter().any(|t| t == extension)
    }
}

fn parse_types(s: &str) -> Result<MediaTypes, String> {
    let types: Vec<String> = s
        .split(',')
        .map(|t| t.trim().trim_start_matches('.').to_ascii_lowercase())
        .filter(|t| !t.is_empty())
        .map(|t| if t == "jpeg" { "jpg".to_string() } else { t })
        .collect();
    if let Some(bad) = types
        .iter()
        .find(|t| !t.chars().all(|c| c.is_ascii_alphanumeric()))
    {
        return Err(format!("{bad:?} is not a type name (e.g. png, pdf, docx)"));
    }
    Ok(MediaTypes(types))
}

/// Bytes, with an optional binary suffix K, M or G (`B`, `iB` and spaces allowed: `10 MB`).
pub fn parse_size(s: &str) -> Result<u64, String> {
    let t = s.trim().to_ascii_uppercase();
    let t = t.trim_end_matches('B').trim_end_matches('I').trim();
    let (number, unit) = match t.char_indices().last() {
        Some((i, 'K')) => (&t[..i], 1u64 << 10),
        Some((i, 'M')) => (&t[..i], 1 << 20),
        Some((i, 'G')) => (&t[..i], 1 << 30),
        _ => (t, 1),
    };
    let n: u64 = number
        .trim()
        .parse()
        .map_err(|_| format!("{s:?} is not a size (e.g. 10485760 or 10M)"))?;
    match n.checked_mul(unit) {
        Some(0) | None => Err(format!("{s:?} must be between 1 byte and 16 EiB")),
        Some(v) => Ok(v),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_with_binary_units() {
        assert_eq!(parse_size("10M"), Ok(10 << 20));
        assert_eq!(parse_size("10 MB"), Ok(10 << 20));
        assert_eq!(parse_size("10MiB"), Ok(10 << 20));
        assert_eq!(parse_size("1234"), Ok(1234));
        assert_eq!(parse_size("2k"), Ok(2048));
        assert!(parse_size("0").is_err());
        assert!(parse_size("ten").is_err());
        assert!(parse_size("").is_err());
    }

    #[test]
    fn types_are_lower_case_extensions() {
        let t = parse_types(" PNG, .jpeg,pdf,,").unwrap();
        assert_eq!(t.0, ["png", "jpg", "pdf"]);
        assert!(t.allows("jpg") && !t.allows("zip"));
        assert!(parse_types("p/ng").is_err());
    }
}
