//! The few pieces of ZooKeeper's jute wire format envctl needs: big-endian integers,
//! length-prefixed strings/buffers, and length-prefixed frames.

/// Frames larger than this are refused (ZooKeeper's own default `jute.maxbuffer` is 1 MiB).
pub const MAX_FRAME: usize = 4 * 1024 * 1024;

/// Builds one request body.
#[derive(Debug, Default)]
pub struct Writer(Vec<u8>);

impl Writer {
    pub fn int(mut self, v: i32) -> Self {
        self.0.extend_from_slice(&v.to_be_bytes());
        self
    }
    pub fn long(mut self, v: i64) -> Self {
        self.0.extend_from_slice(&v.to_be_bytes());
        self
    }
    pub fn bool(mut self, v: bool) -> Self {
        self.0.push(u8::from(v));
        self
    }
    pub fn buffer(self, bytes: &[u8]) -> Self {
        let len = i32::try_from(bytes.len()).unwrap_or(i32::MAX);
        let mut this = self.int(len);
        this.0.extend_from_slice(bytes);
        this
    }
    pub fn string(self, s: &str) -> Self {
        self.buffer(s.as_bytes())
    }
    /// `other`'s bytes after these.
    pub fn append(mut self, other: Writer) -> Self {
        self.0.extend_from_slice(&other.0);
        self
    }
    /// The body with its 4-byte length prefix, ready to send.
    pub fn frame(self) -> Vec<u8> {
        let len = u32::try_from(self.0.len()).unwrap_or(u32::MAX);
        let mut out = Vec::with_capacity(self.0.len() + 4);
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(&self.0);
        out
    }
}

/// xid (4) + zxid (8) + error code (4) before every reply's own fields.
pub const REPLY_HEADER_LEN: usize = 16;

/// A reply body read from `start` on, owning its bytes.
#[derive(Debug)]
pub struct OwnedReader {
    bytes: Vec<u8>,
    at: usize,
}

impl OwnedReader {
    pub fn after(bytes: Vec<u8>, start: usize) -> Self {
        Self { bytes, at: start }
    }
    pub fn strings(&self) -> Result<Vec<String>, Malformed> {
        Reader::new(self.bytes.get(self.at..).unwrap_or_default()).strings()
    }
    pub fn buffer(&self) -> Result<&[u8], Malformed> {
        Reader::new(self.bytes.get(self.at..).unwrap_or_default()).buffer()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("malformed ZooKeeper reply: {0}")]
pub struct Malformed(pub String);

/// Reads one reply body.
#[derive(Debug)]
pub struct Reader<'a> {
    bytes: &'a [u8],
}

impl<'a> Reader<'a> {
    pub fn new(bytes: &'a [u8]) -> Self {
        Self { bytes }
    }
    fn take(&mut self, n: usize, what: &str) -> Result<&'a [u8], Malformed> {
        if self.bytes.len() < n {
            return Err(Malformed(format!(
                "{what}: needed {n} bytes, {} left",
                self.bytes.len()
            )));
        }
        let (head, rest) = self.bytes.split_at(n);
        self.bytes = rest;
        Ok(head)
    }
    pub fn int(&mut self) -> Result<i32, Malformed> {
        let b = self.take(4, "int")?;
        Ok(i32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }
    pub fn long(&mut self) -> Result<i64, Malformed> {
        let b = self.take(8, "long")?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(i64::from_be_bytes(a))
    }
    /// A length-prefixed buffer; -1 (null) reads as empty.
    pub fn buffer(&mut self) -> Result<&'a [u8], Malformed> {
        let len = self.int()?;
        if len < 0 {
            return Ok(&[]);
        }
        self.take(len as usize, "buffer")
    }
    pub fn string(&mut self) -> Result<String, Malformed> {
        let bytes = self.buffer()?;
        String::from_utf8(bytes.to_vec()).map_err(|_| Malformed("string is not UTF-8".into()))
    }
    /// A vector of strings; -1 (null) reads as empty.
    pub fn strings(&mut self) -> Result<Vec<String>, Malformed> {
        let count = self.int()?;
        if count < 0 {
            return Ok(Vec::new());
        }
        // Each string takes at least its 4-byte length: refuse counts the frame cannot hold.
        if count as usize > self.bytes.len() / 4 {
            return Err(Malformed(format!(
                "{count} strings in {} bytes",
                self.bytes.len()
            )));
        }
        (0..count).map(|_| self.string()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frame_has_length_prefix() {
        let f = Writer::default().int(7).string("/a").bool(true).frame();
        assert_eq!(f, vec![0, 0, 0, 11, 0, 0, 0, 7, 0, 0, 0, 2, b'/', b'a', 1]);
    }

    #[test]
    fn reads_what_writer_wrote() {
        let body = Writer::default()
            .int(-3)
            .long(1 << 40)
            .int(2)
            .string("x")
            .string("yz")
            .frame();
        let mut r = Reader::new(&body[4..]);
        assert_eq!(r.int().unwrap(), -3);
        assert_eq!(r.long().unwrap(), 1 << 40);
        assert_eq!(
            r.strings().unwrap(),
            vec!["x".to_string(), "yz".to_string()]
        );
    }

    #[test]
    fn truncated_and_absurd_input_is_an_error_not_a_panic() {
        assert!(Reader::new(&[0, 0]).int().is_err());
        assert!(Reader::new(&[0, 0, 0, 9, b'a']).string().is_err());
        assert!(Reader::new(&[0x7f, 0xff, 0xff, 0xff]).strings().is_err());
        assert_eq!(
            Reader::new(&[0xff, 0xff, 0xff, 0xff]).strings().unwrap(),
            Vec::<String>::new()
        );
    }
}
