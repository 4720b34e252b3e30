//! A pass over protobuf bytes that counts repeated entries before prost allocates them.
//!
//! prost sizes every `bytes` field from data actually present, but a repeated message
//! field costs a whole struct per entry however small the entry is on the wire: two
//! bytes (`0a 00`) become a `BlockData` of about 250 bytes. Counting the entries first
//! bounds that amplification. Malformed bytes end the count silently: prost then
//! reports them properly.

use crate::error::ProtocolError;

/// Iterates over the top-level fields of a protobuf message as
/// `(field number, wire type, length-delimited payload or empty)`.
struct Fields<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Fields<'a> {
    fn new(bytes: &'a [u8]) -> Self {
        Fields { bytes, pos: 0 }
    }

    fn varint(&mut self) -> Option<u64> {
        let mut value = 0u64;
        for shift in (0..70).step_by(7) {
            let byte = *self.bytes.get(self.pos)?;
            self.pos += 1;
            value |= u64::from(byte & 0x7f).checked_shl(shift)?;
            if byte & 0x80 == 0 {
                return Some(value);
            }
        }
        None
    }

    fn skip(&mut self, len: u64) -> Option<&'a [u8]> {
        let len = usize::try_from(len).ok()?;
        let end = self.pos.checked_add(len).filter(|&end| end <= self.bytes.len())?;
        let payload = &self.bytes[self.pos..end];
        self.pos = end;
        Some(payload)
    }
}

impl<'a> Iterator for Fields<'a> {
    type Item = (u64, u8, &'a [u8]);

    fn next(&mut self) -> Option<Self::Item> {
        if self.pos >= self.bytes.len() {
            return None;
        }
        let key = self.varint()?;
        let wire = (key & 7) as u8;
        let payload = match wire {
            0 => {
                self.varint()?;
                &[][..]
            }
            1 => self.skip(8)?,
            2 => {
                let len = self.varint()?;
                self.skip(len)?
            }
            5 => self.skip(4)?,
            // Groups (3, 4) and invalid wire types: leave them to prost.
            _ => return None,
        };
        Some((key >> 3, wire, payload))
    }
}

/// Counts the entries of the repeated message field `outer` of `bytes`, and of the
/// repeated fields `inner` inside them (summed), refusing the message as soon as a
/// count passes its limit.
pub(crate) fn limit_entries(
    what: &'static str,
    bytes: &[u8],
    outer: u64,
    max_outer: usize,
    inner: &[u64],
    max_inner: usize,
) -> Result<(), ProtocolError> {
    let (mut outer_count, mut inner_count) = (0usize, 0usize);
    for (field, wire, payload) in Fields::new(bytes) {
        if field != outer || wire != 2 {
            continue;
        }
        outer_count += 1;
        if outer_count > max_outer {
            return Err(ProtocolError::TooManyEntries { what, max: max_outer });
        }
        for (field, wire, _) in Fields::new(payload) {
            if wire == 2 && inner.contains(&field) {
                inner_count += 1;
                if inner_count > max_inner {
                    return Err(ProtocolError::TooManyEntries { what, max: max_inner });
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn walks_fields() {
        // field 1 varint 300, field 2 bytes "ab", field 3 fixed64, field 4 fixed32.
        let bytes = [0x08, 0xac, 0x02, 0x12, 2, b'a', b'b', 0x19, 1, 2, 3, 4, 5, 6, 7, 8, 0x25, 1, 2, 3, 4];
        let fields: Vec<_> = Fields::new(&bytes).map(|(f, w, p)| (f, w, p.len())).collect();
        assert_eq!(fields, [(1, 0, 0), (2, 2, 2), (3, 1, 8), (4, 5, 4)]);
        // Truncated length-delimited field: the walk stops.
        assert_eq!(Fields::new(&[0x12, 5, 1]).count(), 0);
        // An over-long varint stops too.
        assert_eq!(Fields::new(&[0xff; 12]).count(), 0);
    }

    #[test]
    fn limits() {
        let two = [0x0a, 0x02, 0x1a, 0x00, 0x0a, 0x00];
        assert_eq!(limit_entries("x", &two, 1, 2, &[3], 1), Ok(()));
        assert_eq!(limit_entries("x", &two, 1, 1, &[3], 1), Err(ProtocolError::TooManyEntries { what: "x", max: 1 }));
        assert_eq!(limit_entries("x", &two, 1, 2, &[3], 0), Err(ProtocolError::TooManyEntries { what: "x", max: 0 }));
    }
}
