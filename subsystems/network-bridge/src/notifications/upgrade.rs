//! Framing and substream upgrades of the notification protocols.
//!
//! Every message on a notification substream, the handshakes included, is an
//! unsigned-varint (LEB128, minimally encoded) length followed by that many bytes. An
//! announced length is checked against the limit before any of the payload is read or
//! allocated; memory grows with the bytes actually received.
//!
//! * [`OutboundUpgrade`]: after multistream-select, writes our handshake, then reads the
//!   remote's (at most `max_handshake_size` bytes). A remote that closes or resets the
//!   substream instead of answering has refused it.
//! * [`InboundUpgrade`]: accepts every name (main and fallbacks) of every protocol, reads
//!   the remote's handshake, and stops there: whether to answer is the user's decision.

use std::io;
use std::sync::Arc;

use futures::future::BoxFuture;
use futures::{AsyncRead, AsyncReadExt, AsyncWriteExt, FutureExt};
use libp2p::core::upgrade::{InboundUpgrade as CoreInbound, OutboundUpgrade as CoreOutbound, UpgradeInfo};
use libp2p::swarm::Stream;
use libp2p::StreamProtocol;

use super::SharedProtocol;
use crate::codec::{decode_varint, encode_varint, MAX_VARINT_LEN};

/// Why reading a length-prefixed message failed.
#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    /// The announced length is over the limit (only the prefix was read).
    #[error("{what} of {len} bytes is over the limit of {max} bytes")]
    TooLarge {
        /// `"handshake"` or `"notification"`.
        what: &'static str,
        /// The announced length.
        len: u64,
        /// The limit.
        max: u64,
    },
    /// The length prefix is not a valid minimal unsigned varint of a `u64`.
    #[error("malformed length prefix: {0}")]
    Malformed(io::Error),
    /// The substream ended inside a message.
    #[error("the substream ended inside a {0}")]
    Truncated(&'static str),
    /// The substream failed.
    #[error("i/o: {0}")]
    Io(#[from] io::Error),
}

impl FrameError {
    /// Whether the remote certainly broke the protocol (an oversized message or a
    /// malformed prefix). A truncated message is not counted: a connection that dies
    /// mid-message looks the same.
    pub(crate) fn is_violation(&self) -> bool {
        matches!(self, FrameError::TooLarge { .. } | FrameError::Malformed(_))
    }
}

/// Reads a length prefix. `Ok(None)` if the substream ends (or is reset) before its
/// first byte: the remote closed cleanly between two messages.
pub(crate) async fn read_length<R: AsyncRead + Unpin>(io: &mut R) -> Result<Option<u64>, FrameError> {
    let mut prefix = [0u8; MAX_VARINT_LEN];
    for index in 0..MAX_VARINT_LEN {
        if io.read(&mut prefix[index..=index]).await? == 0 {
            return if index == 0 { Ok(None) } else { Err(FrameError::Truncated("length prefix")) };
        }
        match decode_varint(&prefix[..=index]) {
            Ok(Some((len, _))) => return Ok(Some(len)),
            Ok(None) => {}
            Err(e) => return Err(FrameError::Malformed(e)),
        }
    }
    // `decode_varint` refuses an eleventh byte before we get here.
    Err(FrameError::Malformed(io::Error::new(io::ErrorKind::InvalidData, "length prefix overflows a u64")))
}

/// Reads one message of at most `max` bytes; `Ok(None)` on a clean end of the substream
/// before the message starts.
pub(crate) async fn read_message<R: AsyncRead + Unpin>(
    io: &mut R,
    max: u64,
    what: &'static str,
) -> Result<Option<Vec<u8>>, FrameError> {
    let Some(len) = read_length(io).await? else {
        return Ok(None);
    };
    if len > max {
        return Err(FrameError::TooLarge { what, len, max });
    }
    // Never trust the announced length for the allocation: grow with what arrives.
    let mut payload = Vec::with_capacity(usize::try_from(len).unwrap_or(usize::MAX).min(64 * 1024));
    io.take(len).read_to_end(&mut payload).await?;
    if payload.len() as u64 != len {
        return Err(FrameError::Truncated("payload"));
    }
    Ok(Some(payload))
}

/// Appends a message with its length prefix to `out`.
pub(crate) fn push_message(message: &[u8], out: &mut Vec<u8>) {
    encode_varint(message.len() as u64, out);
    out.extend_from_slice(message);
}

/// Why opening a notification substream failed after protocol negotiation.
#[derive(Debug, thiserror::Error)]
pub enum HandshakeError {
    /// The remote closed or reset the substream instead of sending its handshake: it
    /// refused the substream.
    #[error("refused by the remote")]
    Refused,
    /// Reading or writing a handshake failed.
    #[error("handshake: {0}")]
    Frame(#[from] FrameError),
}

impl HandshakeError {
    /// Whether the remote broke the protocol (see [`FrameError::is_violation`]).
    pub(crate) fn is_violation(&self) -> bool {
        matches!(self, HandshakeError::Frame(e) if e.is_violation())
    }
}

impl From<io::Error> for HandshakeError {
    fn from(e: io::Error) -> Self {
        HandshakeError::Frame(FrameError::Io(e))
    }
}

async fn read_handshake(stream: &mut Stream, max: usize) -> Result<Vec<u8>, HandshakeError> {
    read_message(stream, max as u64, "handshake").await?.ok_or(HandshakeError::Refused)
}

/// Upgrade of a substream we open: negotiate one of the names (main name first), send
/// our handshake, read the remote's.
#[derive(Debug, Clone)]
pub struct OutboundUpgrade {
    /// Main name, then the fallbacks.
    pub(crate) names: Vec<StreamProtocol>,
    /// Our handshake, as it was when the substream was requested.
    pub(crate) handshake: Vec<u8>,
    /// Largest handshake accepted from the remote.
    pub(crate) max_handshake_size: usize,
}

/// An outbound substream, negotiated and handshaken.
#[derive(Debug)]
pub struct OutboundOpen {
    /// The name multistream-select settled on.
    pub(crate) negotiated: StreamProtocol,
    /// The remote's handshake.
    pub(crate) handshake: Vec<u8>,
    /// The substream, ready for notifications.
    pub(crate) stream: Stream,
}

impl UpgradeInfo for OutboundUpgrade {
    type Info = StreamProtocol;
    type InfoIter = std::vec::IntoIter<StreamProtocol>;

    fn protocol_info(&self) -> Self::InfoIter {
        self.names.clone().into_iter()
    }
}

impl CoreOutbound<Stream> for OutboundUpgrade {
    type Output = OutboundOpen;
    type Error = HandshakeError;
    type Future = BoxFuture<'static, Result<OutboundOpen, HandshakeError>>;

    fn upgrade_outbound(self, mut stream: Stream, negotiated: StreamProtocol) -> Self::Future {
        async move {
            let mut frame = Vec::with_capacity(MAX_VARINT_LEN + self.handshake.len());
            push_message(&self.handshake, &mut frame);
            stream.write_all(&frame).await?;
            stream.flush().await?;
            let handshake = read_handshake(&mut stream, self.max_handshake_size).await?;
            Ok(OutboundOpen { negotiated, handshake, stream })
        }
        .boxed()
    }
}

/// A protocol name as offered to multistream-select on inbound substreams, with the
/// index of the protocol it belongs to.
#[derive(Debug, Clone)]
pub struct IndexedName {
    name: StreamProtocol,
    index: usize,
}

impl AsRef<str> for IndexedName {
    fn as_ref(&self) -> &str {
        self.name.as_ref()
    }
}

/// Upgrade of substreams the remote opens: any name of any protocol; reads the remote's
/// handshake.
#[derive(Clone)]
pub struct InboundUpgrade {
    pub(crate) protocols: Arc<[SharedProtocol]>,
}

/// An inbound substream whose handshake has been read; nothing has been written yet.
#[derive(Debug)]
pub struct InboundOpen {
    /// Index of the protocol.
    pub(crate) protocol: usize,
    /// The name multistream-select settled on.
    pub(crate) negotiated: StreamProtocol,
    /// The remote's handshake.
    pub(crate) handshake: Vec<u8>,
    /// The substream.
    pub(crate) stream: Stream,
}

/// A failed inbound upgrade, with the protocol it was for.
#[derive(Debug, thiserror::Error)]
#[error("{error}")]
pub struct InboundError {
    /// Index of the protocol.
    pub(crate) protocol: usize,
    /// What went wrong.
    pub(crate) error: HandshakeError,
}

impl UpgradeInfo for InboundUpgrade {
    type Info = IndexedName;
    type InfoIter = std::vec::IntoIter<IndexedName>;

    fn protocol_info(&self) -> Self::InfoIter {
        let mut names: Vec<IndexedName> = Vec::new();
        for (index, protocol) in self.protocols.iter().enumerate() {
            for name in &protocol.names {
                // A name claimed by two protocols belongs to the first.
                if !names.iter().any(|n| n.name == *name) {
                    names.push(IndexedName { name: name.clone(), index });
                }
            }
        }
        names.into_iter()
    }
}

impl CoreInbound<Stream> for InboundUpgrade {
    type Output = InboundOpen;
    type Error = InboundError;
    type Future = BoxFuture<'static, Result<InboundOpen, InboundError>>;

    fn upgrade_inbound(self, mut stream: Stream, name: IndexedName) -> Self::Future {
        let max = self.protocols.get(name.index).map_or(0, |p| p.max_handshake_size);
        async move {
            match read_handshake(&mut stream, max).await {
                Ok(handshake) => Ok(InboundOpen { protocol: name.index, negotiated: name.name, handshake, stream }),
                Err(error) => Err(InboundError { protocol: name.index, error }),
            }
        }
        .boxed()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::executor::block_on;
    use futures::io::Cursor;

    fn read(bytes: &[u8], max: u64) -> Result<Option<Vec<u8>>, FrameError> {
        block_on(read_message(&mut Cursor::new(bytes.to_vec()), max, "notification"))
    }

    #[test]
    fn messages() {
        let mut wire = Vec::new();
        push_message(b"abc", &mut wire);
        push_message(b"", &mut wire);
        push_message(&[7; 300], &mut wire);
        assert_eq!(&wire[..5], &[3, b'a', b'b', b'c', 0]);
        assert_eq!(&wire[5..7], &[0xac, 0x02]);
        let mut cursor = Cursor::new(wire);
        assert_eq!(block_on(read_message(&mut cursor, 300, "n")).unwrap(), Some(b"abc".to_vec()));
        assert_eq!(block_on(read_message(&mut cursor, 300, "n")).unwrap(), Some(Vec::new()));
        assert_eq!(block_on(read_message(&mut cursor, 300, "n")).unwrap(), Some(vec![7; 300]));
        // A clean end between messages.
        assert_eq!(block_on(read_message(&mut cursor, 300, "n")).unwrap(), None);
    }

    #[test]
    fn limits_and_malformed_prefixes() {
        // Exactly at the limit is fine, one over is refused from the prefix alone.
        assert_eq!(read(&[4, 1, 2, 3, 4], 4).unwrap(), Some(vec![1, 2, 3, 4]));
        let err = read(&[5], 4).unwrap_err();
        assert!(matches!(err, FrameError::TooLarge { len: 5, max: 4, .. }) && err.is_violation());
        // A huge announced length allocates nothing.
        let mut huge = Vec::new();
        encode_varint(u64::MAX, &mut huge);
        assert!(matches!(read(&huge, u64::MAX).unwrap_err(), FrameError::Truncated(_)));
        // Malformed: too long, non-minimal.
        assert!(read(&[0xff; 11], 1024).unwrap_err().is_violation());
        assert!(read(&[0x80, 0x00], 1024).unwrap_err().is_violation());
        // Truncated prefix or payload: an error, but not a provable violation.
        let err = read(&[0x80], 1024).unwrap_err();
        assert!(matches!(err, FrameError::Truncated(_)) && !err.is_violation());
        assert!(matches!(read(&[3, 1], 1024).unwrap_err(), FrameError::Truncated(_)));
    }
}
