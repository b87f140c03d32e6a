//! SPDY/3.1 framing, the part kubectl's port-forward speaks (the
//! `k8s.io/apimachinery` httpstream over moby/spdystream): control frames
//! SYN_STREAM, SYN_REPLY, RST_STREAM, SETTINGS, PING, GOAWAY, HEADERS,
//! WINDOW_UPDATE and data frames. Header blocks are one zlib stream per
//! direction for the whole connection, primed with the SPDY/3 dictionary
//! and sync-flushed after every block (draft-mbelshe-httpbis-spdy-00 §2.6.10).
//! spdystream does no flow control, so WINDOW_UPDATE and SETTINGS are read
//! and ignored; nothing here sends them.

use anyhow::{bail, Context};
use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress, Status};
use tokio::io::{AsyncRead, AsyncReadExt};

pub const SYN_STREAM: u16 = 1;
pub const SYN_REPLY: u16 = 2;
pub const RST_STREAM: u16 = 3;
pub const PING: u16 = 6;
pub const GOAWAY: u16 = 7;
pub const FLAG_FIN: u8 = 0x01;
/// RST_STREAM status codes used here.
pub const PROTOCOL_ERROR: u32 = 1;
pub const REFUSED_STREAM: u32 = 3;

/// The header names of the SPDY/3 dictionary, each written with a 4-byte
/// big-endian length in front, followed by `DICTIONARY_TAIL` as is.
const DICTIONARY_WORDS: &[&str] = &[
    "options",
    "head",
    "post",
    "put",
    "delete",
    "trace",
    "accept",
    "accept-charset",
    "accept-encoding",
    "accept-language",
    "accept-ranges",
    "age",
    "allow",
    "authorization",
    "cache-control",
    "connection",
    "content-base",
    "content-encoding",
    "content-language",
    "content-length",
    "content-location",
    "content-md5",
    "content-range",
    "content-type",
    "date",
    "etag",
    "expect",
    "expires",
    "from",
    "host",
    "if-match",
    "if-modified-since",
    "if-none-match",
    "if-range",
    "if-unmodified-since",
    "last-modified",
    "location",
    "max-forwards",
    "pragma",
    "proxy-authenticate",
    "proxy-authorization",
    "range",
    "referer",
    "retry-after",
    "server",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "user-agent",
    "vary",
    "via",
    "warning",
    "www-authenticate",
    "method",
    "get",
    "status",
    "200 OK",
    "version",
    "HTTP/1.1",
    "url",
    "public",
    "set-cookie",
    "keep-alive",
    "origin",
];

const DICTIONARY_TAIL: &str = concat!(
    "100101201202205206300302303304305306307402405406407408409410411412413414415416417502504505",
    "203 Non-Authoritative Information204 No Content301 Moved Permanently400 Bad Request",
    "401 Unauthorized403 Forbidden404 Not Found500 Internal Server Error501 Not Implemented",
    "503 Service UnavailableJan Feb Mar Apr May Jun Jul Aug Sept Oct Nov Dec 00:00:00 ",
    "Mon, Tue, Wed, Thu, Fri, Sat, Sun, GMTchunked,text/html,image/png,image/jpg,image/gif,",
    "application/xml,application/xhtml+xml,text/plain,text/javascript,publicprivatemax-age=",
    "gzip,deflate,sdchcharset=utf-8charset=iso-8859-1,utf-,*,enq=0.",
);

pub fn dictionary() -> Vec<u8> {
    let mut dict = Vec::with_capacity(1424);
    for word in DICTIONARY_WORDS {
        dict.extend_from_slice(&(word.len() as u32).to_be_bytes());
        dict.extend_from_slice(word.as_bytes());
    }
    dict.extend_from_slice(DICTIONARY_TAIL.as_bytes());
    dict
}

/// One frame as read off the wire.
#[derive(Debug)]
pub enum Frame {
    Data {
        stream: u32,
        fin: bool,
        data: Vec<u8>,
    },
    SynStream {
        stream: u32,
        headers: Vec<(String, String)>,
    },
    /// Read to keep the header stream in step; its fields serve the tests.
    #[cfg_attr(not(test), allow(dead_code))]
    SynReply {
        stream: u32,
        headers: Vec<(String, String)>,
    },
    RstStream {
        stream: u32,
    },
    Ping {
        id: u32,
    },
    GoAway,
    /// HEADERS, SETTINGS, WINDOW_UPDATE and unknown types: read whole
    /// (keeping the header stream in step) and not acted on.
    Ignored,
}

/// Reads frames; owns the inbound header decompressor.
pub struct Reader<R> {
    io: R,
    inflate: Decompress,
    dictionary: Vec<u8>,
}

impl<R: AsyncRead + Unpin> Reader<R> {
    pub fn new(io: R) -> Self {
        Reader {
            io,
            inflate: Decompress::new(true),
            dictionary: dictionary(),
        }
    }

    /// The next frame, or `None` at a clean end of the connection.
    pub async fn next(&mut self) -> anyhow::Result<Option<Frame>> {
        let mut head = [0u8; 8];
        match self.io.read_exact(&mut head).await {
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
            Err(e) => return Err(e.into()),
        }
        let flags = head[4];
        let length = u32::from_be_bytes([0, head[5], head[6], head[7]]) as usize;
        let mut body = vec![0u8; length];
        self.io.read_exact(&mut body).await?;
        if head[0] & 0x80 == 0 {
            let stream = u32::from_be_bytes([head[0], head[1], head[2], head[3]]);
            return Ok(Some(Frame::Data {
                stream,
                fin: flags & FLAG_FIN != 0,
                data: body,
            }));
        }
        let version = u16::from_be_bytes([head[0] & 0x7f, head[1]]);
        if version != 3 {
            bail!("SPDY version {version} is not spoken here (only 3)");
        }
        let kind = u16::from_be_bytes([head[2], head[3]]);
        let word = |at: usize| -> anyhow::Result<u32> {
            let b = body.get(at..at + 4).context("a control frame too short")?;
            Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
        };
        Ok(Some(match kind {
            SYN_STREAM => {
                let stream = word(0)? & 0x7fff_ffff;
                let block = body.get(10..).context("SYN_STREAM too short")?;
                Frame::SynStream {
                    stream,
                    headers: self.headers(block)?,
                }
            }
            SYN_REPLY => Frame::SynReply {
                stream: word(0)? & 0x7fff_ffff,
                headers: self.headers(body.get(4..).context("SYN_REPLY too short")?)?,
            },
            8 => {
                // HEADERS: keep the shared decompressor in step with the peer.
                self.headers(body.get(4..).context("HEADERS too short")?)?;
                Frame::Ignored
            }
            RST_STREAM => Frame::RstStream {
                stream: word(0)? & 0x7fff_ffff,
            },
            PING => Frame::Ping { id: word(0)? },
            GOAWAY => Frame::GoAway,
            _ => Frame::Ignored,
        }))
    }

    fn headers(&mut self, block: &[u8]) -> anyhow::Result<Vec<(String, String)>> {
        let mut plain = Vec::with_capacity(block.len() * 4 + 64);
        let mut input = block;
        loop {
            if plain.capacity() - plain.len() < 256 {
                plain.reserve(4096);
            }
            let before_in = self.inflate.total_in();
            let result = self
                .inflate
                .decompress_vec(input, &mut plain, FlushDecompress::Sync);
            let used = (self.inflate.total_in() - before_in) as usize;
            input = &input[used..];
            match result {
                Ok(Status::Ok | Status::BufError) if input.is_empty() => break,
                Ok(Status::StreamEnd) => break,
                Ok(_) => {}
                Err(e) if e.needs_dictionary().is_some() => {
                    self.inflate
                        .set_dictionary(&self.dictionary)
                        .context("the peer's header dictionary is not SPDY/3's")?;
                }
                Err(e) => return Err(e).context("a corrupt SPDY header block"),
            }
        }
        parse_block(&plain)
    }
}

fn parse_block(mut b: &[u8]) -> anyhow::Result<Vec<(String, String)>> {
    let take = |b: &mut &[u8]| -> anyhow::Result<Vec<u8>> {
        let n = u32::from_be_bytes(b.get(..4).context("truncated header block")?.try_into()?);
        let n = n as usize;
        let v = b.get(4..4 + n).context("truncated header block")?.to_vec();
        *b = &b[4 + n..];
        Ok(v)
    };
    let count = u32::from_be_bytes(b.get(..4).context("empty header block")?.try_into()?);
    b = &b[4..];
    let mut out = Vec::new();
    for _ in 0..count {
        let name = String::from_utf8(take(&mut b)?)?;
        let value = String::from_utf8(take(&mut b)?)?;
        if name.bytes().any(|c| c.is_ascii_uppercase()) {
            bail!("SPDY header name {name:?} is not lower case");
        }
        out.push((name, value));
    }
    Ok(out)
}

/// Builds frames; owns the outbound header compressor.
pub struct Writer {
    deflate: Compress,
}

impl Default for Writer {
    fn default() -> Self {
        let mut deflate = Compress::new(Compression::best(), true);
        deflate
            .set_dictionary(&dictionary())
            .expect("a fresh compressor takes a dictionary");
        Writer { deflate }
    }
}

impl Writer {
    fn control(kind: u16, flags: u8, body: &[u8]) -> Vec<u8> {
        let mut f = Vec::with_capacity(8 + body.len());
        f.extend_from_slice(&(0x8003u16).to_be_bytes());
        f.extend_from_slice(&kind.to_be_bytes());
        f.push(flags);
        f.extend_from_slice(&(body.len() as u32).to_be_bytes()[1..]);
        f.extend_from_slice(body);
        f
    }

    /// SYN_REPLY with no headers, as the kubelet answers every stream.
    pub fn syn_reply(&mut self, stream: u32) -> Vec<u8> {
        let mut body = stream.to_be_bytes().to_vec();
        let block = self.compress(&0u32.to_be_bytes());
        body.extend_from_slice(&block);
        Self::control(SYN_REPLY, 0, &body)
    }

    /// SYN_STREAM, as a client opens a stream (the emulator's own tests).
    #[cfg(test)]
    pub fn syn_stream(&mut self, stream: u32, headers: &[(&str, &str)]) -> Vec<u8> {
        let mut plain = (headers.len() as u32).to_be_bytes().to_vec();
        for (name, value) in headers {
            for s in [name, value] {
                plain.extend_from_slice(&(s.len() as u32).to_be_bytes());
                plain.extend_from_slice(s.as_bytes());
            }
        }
        let mut body = stream.to_be_bytes().to_vec();
        body.extend_from_slice(&0u32.to_be_bytes());
        body.extend_from_slice(&[0, 0]);
        body.extend_from_slice(&self.compress(&plain));
        Self::control(SYN_STREAM, 0, &body)
    }

    pub fn rst_stream(stream: u32, status: u32) -> Vec<u8> {
        let mut body = stream.to_be_bytes().to_vec();
        body.extend_from_slice(&status.to_be_bytes());
        Self::control(RST_STREAM, 0, &body)
    }

    pub fn ping(id: u32) -> Vec<u8> {
        Self::control(PING, 0, &id.to_be_bytes())
    }

    pub fn data(stream: u32, fin: bool, data: &[u8]) -> Vec<u8> {
        let mut f = Vec::with_capacity(8 + data.len());
        f.extend_from_slice(&(stream & 0x7fff_ffff).to_be_bytes());
        f.push(if fin { FLAG_FIN } else { 0 });
        f.extend_from_slice(&(data.len() as u32).to_be_bytes()[1..]);
        f.extend_from_slice(data);
        f
    }

    fn compress(&mut self, plain: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(plain.len() + 64);
        let mut input = plain;
        loop {
            out.reserve(256);
            let before = self.deflate.total_in();
            self.deflate
                .compress_vec(input, &mut out, FlushCompress::Sync)
                .expect("compressing into a growing buffer");
            input = &input[(self.deflate.total_in() - before) as usize..];
            // A sync flush is complete once all input is taken and the
            // buffer was not filled to the brim.
            if input.is_empty() && out.len() < out.capacity() {
                return out;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_dictionary_is_spdy3s() {
        let dict = dictionary();
        assert_eq!(dict.len(), 1423);
        // RFC 1950 Adler-32 of the dictionary, the DICTID a SPDY/3 peer
        // sends in its zlib header.
        let (mut a, mut b) = (1u32, 0u32);
        for byte in &dict {
            a = (a + u32::from(*byte)) % 65521;
            b = (b + a) % 65521;
        }
        assert_eq!((b << 16) | a, 0xe3c6_a7c2);
    }

    #[tokio::test]
    async fn header_blocks_round_trip_through_one_zlib_stream() {
        // Our writer's compressor against our reader's decompressor, blocks
        // in a row so that the later ones depend on the stream's state.
        let mut w = Writer::default();
        let headers = [("streamtype", "data"), ("port", "8080"), ("requestid", "0")];
        let mut wire = w.syn_stream(1, &headers);
        wire.extend(w.syn_reply(1));
        wire.extend(w.syn_stream(3, &headers));
        wire.extend(Writer::data(3, true, b"bytes"));
        let mut r = Reader::new(&wire[..]);
        let want: Vec<(String, String)> = headers
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect();
        match r.next().await.unwrap() {
            Some(Frame::SynStream {
                stream: 1, headers, ..
            }) => assert_eq!(headers, want),
            other => panic!("{other:?}"),
        }
        match r.next().await.unwrap() {
            Some(Frame::SynReply { stream: 1, headers }) => assert!(headers.is_empty()),
            other => panic!("{other:?}"),
        }
        match r.next().await.unwrap() {
            Some(Frame::SynStream {
                stream: 3, headers, ..
            }) => assert_eq!(headers, want),
            other => panic!("{other:?}"),
        }
        match r.next().await.unwrap() {
            Some(Frame::Data {
                stream: 3,
                fin: true,
                data,
            }) => assert_eq!(data, b"bytes"),
            other => panic!("{other:?}"),
        }
        assert!(r.next().await.unwrap().is_none());
    }

    #[test]
    fn header_blocks_parse_and_refuse_upper_case() {
        let mut block = 1u32.to_be_bytes().to_vec();
        for s in ["streamtype", "data"] {
            block.extend_from_slice(&(s.len() as u32).to_be_bytes());
            block.extend_from_slice(s.as_bytes());
        }
        assert_eq!(
            parse_block(&block).unwrap(),
            vec![("streamtype".into(), "data".into())]
        );
        block[8] = b'S';
        assert!(parse_block(&block).is_err());
        assert!(parse_block(&block[..6]).is_err());
    }
}
