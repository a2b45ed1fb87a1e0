//! Sums a pull's per-layer progress into one line: layers done, bytes so far.

use std::collections::BTreeMap;

#[derive(Debug, Default)]
pub struct PullProgress {
    /// Per layer: done, current bytes, total bytes.
    layers: BTreeMap<String, (bool, u64, u64)>,
}

impl PullProgress {
    /// Takes one layer update and returns the summary line.
    pub fn update(
        &mut self,
        id: &str,
        status: &str,
        current: Option<u64>,
        total: Option<u64>,
    ) -> String {
        // Messages about the image as a whole (digest, "Pulling from") carry no layer id.
        if !id.is_empty() {
            let entry = self.layers.entry(id.to_string()).or_default();
            let done = status.contains("complete") || status.contains("Already exists");
            entry.0 |= done;
            if let Some(total) = total {
                entry.2 = total;
            }
            if let Some(current) = current {
                entry.1 = current;
            }
            if done {
                entry.1 = entry.2;
            }
        }
        let done = self.layers.values().filter(|l| l.0).count();
        let (current, total) = self
            .layers
            .values()
            .fold((0, 0), |(c, t), l| (c + l.1, t + l.2));
        let bytes = if total > 0 {
            format!(", {:.1}/{:.1} MB", mb(current), mb(total))
        } else {
            String::new()
        };
        format!("{done}/{} layers{bytes}", self.layers.len())
    }
}

/// Bytes as (decimal) megabytes, as progress shows them.
pub fn mb(bytes: u64) -> f64 {
    bytes as f64 / 1_000_000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sums_layers() {
        let mut p = PullProgress::default();
        p.update("a", "Downloading", Some(1_000_000), Some(4_000_000));
        let line = p.update("b", "Already exists", None, None);
        assert_eq!(line, "1/2 layers, 1.0/4.0 MB");
        let line = p.update("a", "Pull complete", None, None);
        assert_eq!(line, "2/2 layers, 4.0/4.0 MB");
        assert_eq!(
            p.update("", "Digest: sha256:x", None, None),
            "2/2 layers, 4.0/4.0 MB"
        );
    }
}
