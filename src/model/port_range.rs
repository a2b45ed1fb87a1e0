//! The range envctl allocates host ports from (`ENVCTL_PORT_RANGE`, `FIRST-LAST`).

/// The inclusive range envctl picks host ports from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PortRange {
    pub first: u16,
    pub last: u16,
}

/// A port range that is not `FIRST-LAST` (the text as given).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("port range `{0}` is not FIRST-LAST with 1 <= FIRST <= LAST <= 65535")]
pub struct BadPortRange(pub String);

impl Default for PortRange {
    fn default() -> Self {
        Self {
            first: 20000,
            last: 39999,
        }
    }
}

impl PortRange {
    /// Parses `FIRST-LAST`.
    pub fn parse(text: &str) -> Result<Self, BadPortRange> {
        let bad = || BadPortRange(text.to_string());
        let (a, b) = text.trim().split_once('-').ok_or_else(bad)?;
        let first: u16 = a.trim().parse().map_err(|_| bad())?;
        let last: u16 = b.trim().parse().map_err(|_| bad())?;
        if first == 0 || first > last {
            return Err(bad());
        }
        Ok(Self { first, last })
    }

    /// How many ports it holds.
    pub fn size(self) -> u32 {
        u32::from(self.last) - u32::from(self.first) + 1
    }

    pub fn contains(self, port: u16) -> bool {
        (self.first..=self.last).contains(&port)
    }
}
