//! Memory and CPU amounts as Kubernetes quantities (`256Mi`, `1Gi`, `500m`).

const MI: u64 = 1 << 20;
const GI: u64 = 1 << 30;

/// The largest binary unit that divides `bytes` exactly, else plain bytes.
pub fn memory(bytes: u64) -> String {
    if bytes != 0 && bytes.is_multiple_of(GI) {
        format!("{}Gi", bytes / GI)
    } else if bytes != 0 && bytes.is_multiple_of(MI) {
        format!("{}Mi", bytes / MI)
    } else {
        bytes.to_string()
    }
}

/// Millicores, rounded up so a limit is never below what Docker would give (at least `1m`).
pub fn cpu(cpus: f64) -> String {
    let millis = ((cpus * 1000.0).ceil() as u64).max(1);
    if millis.is_multiple_of(1000) {
        (millis / 1000).to_string()
    } else {
        format!("{millis}m")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_uses_the_largest_exact_unit() {
        for (bytes, want) in [
            (256 * MI, "256Mi"),
            (GI, "1Gi"),
            (3 * GI, "3Gi"),
            (1536 * MI, "1536Mi"),
            (1000, "1000"),
            (0, "0"),
        ] {
            assert_eq!(memory(bytes), want, "{bytes}");
        }
    }

    #[test]
    fn cpu_is_in_millicores() {
        for (cpus, want) in [(1.0, "1"), (0.5, "500m"), (2.25, "2250m"), (0.0001, "1m")] {
            assert_eq!(cpu(cpus), want, "{cpus}");
        }
    }
}
