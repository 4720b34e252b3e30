//! Request-response framing of Substrate's request protocols (`sync/2`, `state/2`,
//! `light/2`, ...): on a substream opened for one request, the requester writes the
//! request as an unsigned-varint (LEB128) length followed by that many bytes and closes
//! its writing side; the responder answers the same way, or closes the substream
//! without answering to refuse. Payloads are raw bytes here; decoding them is
//! `weft-network-protocol`'s job.
//!
//! A length over the limit is refused as soon as the prefix has been read, before any
//! of the payload is read or allocated. For a response, the error carries a
//! [`FrameTooLarge`] so that the host can tell it apart and report the peer. For a
//! request, the codec returns [`RequestFrame::TooLarge`] instead of an error: libp2p's
//! request-response behaviour (0.29) drops errors of `read_request` silently, and the
//! host could not otherwise learn which peer sent it.

use std::io;

use async_trait::async_trait;
use futures::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use libp2p::StreamProtocol;
use weft_network_protocol::sync::{MAX_BLOCK_RESPONSE_BYTES, MAX_REQUEST_BYTES};

/// Most bytes of an unsigned-varint encoding of a `u64`.
pub const MAX_VARINT_LEN: usize = 10;

/// A frame announced a length over the limit (inside an `io::Error` of kind
/// `InvalidData`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{what} of {len} bytes is over the limit of {max} bytes")]
pub struct FrameTooLarge {
    /// `"request"` or `"response"`.
    pub what: &'static str,
    /// The announced length.
    pub len: u64,
    /// The limit.
    pub max: usize,
}

impl FrameTooLarge {
    /// The `FrameTooLarge` inside an I/O error, if that is what it is.
    pub fn from_io(error: &io::Error) -> Option<&FrameTooLarge> {
        error.get_ref().and_then(|inner| inner.downcast_ref::<FrameTooLarge>())
    }
}

/// Appends the unsigned-varint encoding of `value` to `out`.
pub fn encode_varint(mut value: u64, out: &mut Vec<u8>) {
    loop {
        let byte = (value & 0x7f) as u8;
        value >>= 7;
        if value == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

/// Decodes an unsigned varint at the start of `bytes`: the value and the number of
/// bytes it took. `None` if `bytes` ends inside it; an error for an encoding longer
/// than a `u64` allows or with redundant trailing zero groups (the unsigned-varint
/// spec's minimal encoding).
pub fn decode_varint(bytes: &[u8]) -> Result<Option<(u64, usize)>, io::Error> {
    let mut value = 0u64;
    for (i, &byte) in bytes.iter().enumerate() {
        push_varint_byte(&mut value, i, byte)?;
        if byte & 0x80 == 0 {
            return Ok(Some((value, i + 1)));
        }
    }
    Ok(None)
}

fn push_varint_byte(value: &mut u64, index: usize, byte: u8) -> Result<(), io::Error> {
    let bits = u64::from(byte & 0x7f);
    if index >= MAX_VARINT_LEN || (index == MAX_VARINT_LEN - 1 && bits > 1) {
        return Err(io::Error::new(io::ErrorKind::InvalidData, "length prefix overflows a u64"));
    }
    if index > 0 && byte == 0 {
        return Err(io::Error::new(io::ErrorKind::InvalidData, "length prefix is not minimally encoded"));
    }
    *value |= bits << (7 * index);
    Ok(())
}

/// Reads a varint length prefix, one byte at a time (at most [`MAX_VARINT_LEN`]).
pub async fn read_varint<R: AsyncRead + Unpin>(io: &mut R) -> io::Result<u64> {
    let mut value = 0u64;
    for index in 0..MAX_VARINT_LEN {
        let mut byte = [0u8; 1];
        io.read_exact(&mut byte).await?;
        push_varint_byte(&mut value, index, byte[0])?;
        if byte[0] & 0x80 == 0 {
            return Ok(value);
        }
    }
    Err(io::Error::new(io::ErrorKind::InvalidData, "length prefix overflows a u64"))
}

/// Reads one length-prefixed frame of at most `max` bytes. A longer announced length
/// fails with a [`FrameTooLarge`] before the payload is read; a payload shorter than
/// announced fails with `UnexpectedEof`. Memory grows with the bytes actually received,
/// not with the announced length.
pub async fn read_frame<R: AsyncRead + Unpin>(io: &mut R, max: usize, what: &'static str) -> io::Result<Vec<u8>> {
    match read_checked_frame(io, max, what).await? {
        Ok(payload) => Ok(payload),
        Err(too_large) => Err(io::Error::new(io::ErrorKind::InvalidData, too_large)),
    }
}

/// [`read_frame`], with an announced length over `max` as an `Ok(Err(..))` (only the
/// prefix has then been read).
pub async fn read_checked_frame<R: AsyncRead + Unpin>(
    io: &mut R,
    max: usize,
    what: &'static str,
) -> io::Result<Result<Vec<u8>, FrameTooLarge>> {
    let len = read_varint(io).await?;
    if len > max as u64 {
        return Ok(Err(FrameTooLarge { what, len, max }));
    }
    // `len <= max`, a usize.
    let len = len as usize;
    let mut payload = Vec::with_capacity(len.min(64 * 1024));
    io.take(len as u64).read_to_end(&mut payload).await?;
    if payload.len() != len {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            format!("{what} ended after {} of {len} bytes", payload.len()),
        ));
    }
    Ok(Ok(payload))
}

/// Writes one length-prefixed frame, refusing one over `max` bytes.
pub async fn write_frame<W: AsyncWrite + Unpin>(
    io: &mut W,
    payload: &[u8],
    max: usize,
    what: &'static str,
) -> io::Result<()> {
    if payload.len() > max {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            FrameTooLarge { what, len: payload.len() as u64, max },
        ));
    }
    let mut prefix = Vec::with_capacity(MAX_VARINT_LEN);
    encode_varint(payload.len() as u64, &mut prefix);
    io.write_all(&prefix).await?;
    io.write_all(payload).await?;
    io.flush().await
}

/// A request as the codec reads and writes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RequestFrame {
    /// The request's bytes.
    Payload(Vec<u8>),
    /// A received request whose announced length is over the limit: only its length
    /// prefix was read. Never written (writing one fails).
    TooLarge(FrameTooLarge),
}

/// The raw-bytes request-response codec with unsigned-varint length framing and size
/// limits; by default those of `sync/2` (requests 1 MiB, responses 16 MiB).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SyncCodec {
    max_request: usize,
    max_response: usize,
}

impl Default for SyncCodec {
    fn default() -> Self {
        SyncCodec { max_request: MAX_REQUEST_BYTES, max_response: MAX_BLOCK_RESPONSE_BYTES }
    }
}

impl SyncCodec {
    /// A codec with other limits (for other request protocols, or for tests that need to
    /// send what a well-behaved node would not).
    pub fn with_limits(max_request: usize, max_response: usize) -> Self {
        SyncCodec { max_request, max_response }
    }

    /// Largest request read or written.
    pub fn max_request(&self) -> usize {
        self.max_request
    }

    /// Largest response read or written.
    pub fn max_response(&self) -> usize {
        self.max_response
    }
}

#[async_trait]
impl libp2p::request_response::Codec for SyncCodec {
    type Protocol = StreamProtocol;
    type Request = RequestFrame;
    type Response = Vec<u8>;

    async fn read_request<T>(&mut self, _: &StreamProtocol, io: &mut T) -> io::Result<RequestFrame>
    where
        T: AsyncRead + Unpin + Send,
    {
        Ok(match read_checked_frame(io, self.max_request, "request").await? {
            Ok(payload) => RequestFrame::Payload(payload),
            Err(too_large) => RequestFrame::TooLarge(too_large),
        })
    }

    async fn read_response<T>(&mut self, _: &StreamProtocol, io: &mut T) -> io::Result<Vec<u8>>
    where
        T: AsyncRead + Unpin + Send,
    {
        read_frame(io, self.max_response, "response").await
    }

    async fn write_request<T>(&mut self, _: &StreamProtocol, io: &mut T, request: RequestFrame) -> io::Result<()>
    where
        T: AsyncWrite + Unpin + Send,
    {
        match request {
            RequestFrame::Payload(payload) => write_frame(io, &payload, self.max_request, "request").await,
            RequestFrame::TooLarge(too_large) => Err(io::Error::new(io::ErrorKind::InvalidInput, too_large)),
        }
    }

    async fn write_response<T>(&mut self, _: &StreamProtocol, io: &mut T, response: Vec<u8>) -> io::Result<()>
    where
        T: AsyncWrite + Unpin + Send,
    {
        write_frame(io, &response, self.max_response, "response").await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::executor::block_on;
    use futures::io::Cursor;

    fn varint(value: u64) -> Vec<u8> {
        let mut out = Vec::new();
        encode_varint(value, &mut out);
        out
    }

    #[test]
    fn varint_round_trip() {
        assert_eq!(varint(0), [0]);
        assert_eq!(varint(127), [0x7f]);
        assert_eq!(varint(128), [0x80, 0x01]);
        assert_eq!(varint(300), [0xac, 0x02]);
        assert_eq!(varint(u64::MAX).len(), MAX_VARINT_LEN);
        for value in [0, 1, 127, 128, 16_383, 16_384, 1 << 20, 16 << 20, u64::MAX] {
            let bytes = varint(value);
            assert_eq!(decode_varint(&bytes).unwrap(), Some((value, bytes.len())));
            assert_eq!(block_on(read_varint(&mut Cursor::new(bytes.clone()))).unwrap(), value);
            assert_eq!(decode_varint(&bytes[..bytes.len() - 1]).unwrap(), None);
        }
        // 11 bytes, a 10th byte above 1, and non-minimal encodings are refused.
        assert!(decode_varint(&[0xff; 11]).is_err());
        assert!(decode_varint(&[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02]).is_err());
        assert!(decode_varint(&[0x80, 0x00]).is_err());
        assert!(block_on(read_varint(&mut Cursor::new(vec![0xff; 11]))).is_err());
    }

    #[test]
    fn frames() {
        let mut buf = Cursor::new(Vec::new());
        block_on(write_frame(&mut buf, b"hello", 16, "request")).unwrap();
        assert_eq!(buf.get_ref(), &[5, b'h', b'e', b'l', b'l', b'o']);
        let mut read = Cursor::new(buf.into_inner());
        assert_eq!(block_on(read_frame(&mut read, 16, "request")).unwrap(), b"hello");

        // An empty frame is a single zero byte (an empty protobuf message).
        let mut empty = Cursor::new(vec![0]);
        assert_eq!(block_on(read_frame(&mut empty, 16, "response")).unwrap(), Vec::<u8>::new());

        // Over the limit: refused from the prefix alone, with the announced length.
        let mut big = varint(17);
        big.extend_from_slice(&[0; 3]);
        let err = block_on(read_frame(&mut Cursor::new(big), 16, "request")).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);
        assert_eq!(FrameTooLarge::from_io(&err), Some(&FrameTooLarge { what: "request", len: 17, max: 16 }));
        // A huge announced length allocates nothing up front.
        let err = block_on(read_frame(&mut Cursor::new(varint(u64::MAX)), usize::MAX, "response")).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::UnexpectedEof);

        // Truncated payload.
        let mut short = varint(10);
        short.extend_from_slice(&[1, 2, 3]);
        let err = block_on(read_frame(&mut Cursor::new(short), 16, "response")).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::UnexpectedEof);
        assert!(FrameTooLarge::from_io(&err).is_none());

        // Writing over the limit is refused too.
        let err = block_on(write_frame(&mut Cursor::new(Vec::new()), &[0; 17], 16, "request")).unwrap_err();
        assert_eq!(FrameTooLarge::from_io(&err).map(|e| e.len), Some(17));
    }

    #[test]
    fn sync_codec() {
        use libp2p::request_response::Codec;
        let mut codec = SyncCodec::default();
        assert_eq!(codec.max_request(), 1024 * 1024);
        assert_eq!(codec.max_response(), 16 * 1024 * 1024);
        let protocol = StreamProtocol::new("/test/sync/2");

        let mut small = SyncCodec::with_limits(4, 8);
        let mut wire = Cursor::new(Vec::new());
        block_on(small.write_request(&protocol, &mut wire, RequestFrame::Payload(vec![1, 2, 3]))).unwrap();
        let mut read = Cursor::new(wire.into_inner());
        let request = block_on(small.read_request(&protocol, &mut read)).unwrap();
        assert_eq!(request, RequestFrame::Payload(vec![1, 2, 3]));

        // An oversized request is a value, not an error, so that the host sees who sent it.
        let mut big = Cursor::new(Vec::new());
        block_on(codec.write_request(&protocol, &mut big, RequestFrame::Payload(vec![0; 5]))).unwrap();
        let request = block_on(small.read_request(&protocol, &mut Cursor::new(big.into_inner()))).unwrap();
        assert_eq!(request, RequestFrame::TooLarge(FrameTooLarge { what: "request", len: 5, max: 4 }));
        let err = block_on(small.write_request(&protocol, &mut Cursor::new(Vec::new()), request)).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput);

        // An oversized response is an error carrying `FrameTooLarge`.
        let mut wire = Cursor::new(Vec::new());
        block_on(codec.write_response(&protocol, &mut wire, vec![0; 9])).unwrap();
        let err = block_on(small.read_response(&protocol, &mut Cursor::new(wire.into_inner()))).unwrap_err();
        assert_eq!(FrameTooLarge::from_io(&err).map(|e| (e.what, e.len)), Some(("response", 9)));
    }
}
