//! `EXPERIMENT.path.to.key` parsing.

use super::EditError;

/// Split a key path at dots. Segments are matched against the file later; an
/// experiment whose name contains dots is resolved there (see `locate`).
pub(crate) fn parse_key(key: &str) -> Result<Vec<String>, EditError> {
    if key.trim().is_empty() {
        return Err(EditError::new(
            key,
            "empty key; write EXPERIMENT.path.to.key",
        ));
    }
    let parts: Vec<String> = key.split('.').map(str::to_string).collect();
    if let Some(i) = parts.iter().position(|p| p.trim().is_empty()) {
        return Err(EditError::new(
            key,
            format!(
                "segment {} of the key is empty; write EXPERIMENT.path.to.key",
                i + 1
            ),
        ));
    }
    Ok(parts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_and_refuses_empty_segments() {
        assert_eq!(parse_key("a.b.c").unwrap(), ["a", "b", "c"]);
        assert!(parse_key("a..c").is_err());
        assert!(parse_key("").is_err());
        assert!(parse_key(".a").is_err());
    }
}
