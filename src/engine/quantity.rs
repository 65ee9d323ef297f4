//! Kubernetes resource quantities ("600m", "2G", "2Gi", "1.5") as numbers, for validation and sizing.

/// Parses a quantity into its value in base units (cores for CPU, bytes for memory and storage).
pub fn parse(q: &str) -> Result<f64, String> {
    let q = q.trim();
    if q.is_empty() {
        return Err("must not be empty".into());
    }
    let split = q
        .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '+' || c == '-'))
        .unwrap_or(q.len());
    let (num, suffix) = q.split_at(split);
    let n: f64 = num
        .parse()
        .map_err(|_| format!("\"{q}\" is not a valid quantity (examples: 1, 500m, 2G, 4Gi)"))?;
    let mult = match suffix {
        "" => 1.0,
        "m" => 1e-3,
        "k" => 1e3,
        "M" => 1e6,
        "G" => 1e9,
        "T" => 1e12,
        "P" => 1e15,
        "Ki" => 1024.0,
        "Mi" => 1024f64.powi(2),
        "Gi" => 1024f64.powi(3),
        "Ti" => 1024f64.powi(4),
        "Pi" => 1024f64.powi(5),
        _ => {
            // Exponent form, e.g. "1e9".
            if let Some(exp) = suffix.strip_prefix(['e', 'E']) {
                let e: i32 = exp.parse().map_err(|_| format!("\"{q}\" is not a valid quantity"))?;
                10f64.powi(e)
            } else {
                return Err(format!("\"{q}\" has an unknown unit \"{suffix}\" (use m, k, M, G, T, Ki, Mi, Gi, Ti)"));
            }
        }
    };
    if n < 0.0 {
        return Err(format!("\"{q}\" must not be negative"));
    }
    Ok(n * mult)
}

#[cfg(test)]
mod tests {
    use super::parse;

    #[test]
    fn units() {
        assert_eq!(parse("1").unwrap(), 1.0);
        assert_eq!(parse("600m").unwrap(), 0.6);
        assert_eq!(parse("512M").unwrap(), 512e6);
        assert_eq!(parse("2Gi").unwrap(), 2.0 * 1024.0 * 1024.0 * 1024.0);
        assert_eq!(parse("1.5G").unwrap(), 1.5e9);
        assert_eq!(parse("1e9").unwrap(), 1e9);
    }

    #[test]
    fn rejects_garbage() {
        assert!(parse("").is_err());
        assert!(parse("abc").is_err());
        assert!(parse("2GB").unwrap_err().contains("unknown unit"));
        assert!(parse("-1").is_err());
    }
}
