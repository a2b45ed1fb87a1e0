//! How errors reach the user: once, as a chain, on one screen.

/// Formats an error and its causes. Errors whose own message already carries a rendered
/// diagnostic (file, line, offending source) are printed as they are.
pub fn render_error(err: &anyhow::Error) -> String {
    let mut out = format!("error: {err}");
    for cause in err.chain().skip(1) {
        let text = cause.to_string();
        if !out.contains(&text) {
            out.push_str(&format!("\n  caused by: {text}"));
        }
    }
    out
}
