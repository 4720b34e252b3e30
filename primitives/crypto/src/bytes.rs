//! Internal helper generating fixed-size byte-array newtypes (public keys and
//! signatures) with a uniform, non-panicking API.

/// Declares `pub struct $name(pub [u8; $len])` with conversions, SCALE codec
/// support, hex `Debug`/`Display` and a checked `from_slice`.
macro_rules! byte_array_newtype {
    ($(#[$meta:meta])* $name:ident, $len:expr, $what:expr) => {
        $(#[$meta])*
        #[derive(
            Clone,
            Copy,
            PartialEq,
            Eq,
            PartialOrd,
            Ord,
            Hash,
            parity_scale_codec::Encode,
            parity_scale_codec::Decode,
            parity_scale_codec::MaxEncodedLen,
        )]
        pub struct $name(pub [u8; $len]);

        impl $name {
            /// Length of the encoding in bytes.
            pub const LEN: usize = $len;

            /// Wraps raw bytes without any validation.
            pub const fn from_raw(bytes: [u8; $len]) -> Self {
                Self(bytes)
            }

            /// Parses a slice that must be exactly [`Self::LEN`] bytes long.
            ///
            /// Only the length is checked; the bytes are not validated
            /// cryptographically (that happens when they are used).
            pub fn from_slice(data: &[u8]) -> Result<Self, $crate::CryptoError> {
                <[u8; $len]>::try_from(data).map(Self).map_err(|_| {
                    $crate::CryptoError::BadLength {
                        what: $what,
                        expected: $len,
                        got: data.len(),
                    }
                })
            }

            /// The raw bytes.
            pub const fn as_bytes(&self) -> &[u8; $len] {
                &self.0
            }

            /// The raw bytes, by value.
            pub const fn to_bytes(self) -> [u8; $len] {
                self.0
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self([0u8; $len])
            }
        }

        impl AsRef<[u8]> for $name {
            fn as_ref(&self) -> &[u8] {
                &self.0[..]
            }
        }

        impl AsRef<[u8; $len]> for $name {
            fn as_ref(&self) -> &[u8; $len] {
                &self.0
            }
        }

        impl AsMut<[u8]> for $name {
            fn as_mut(&mut self) -> &mut [u8] {
                &mut self.0[..]
            }
        }

        impl From<[u8; $len]> for $name {
            fn from(bytes: [u8; $len]) -> Self {
                Self(bytes)
            }
        }

        impl From<$name> for [u8; $len] {
            fn from(value: $name) -> Self {
                value.0
            }
        }

        impl TryFrom<&[u8]> for $name {
            type Error = $crate::CryptoError;

            fn try_from(data: &[u8]) -> Result<Self, Self::Error> {
                Self::from_slice(data)
            }
        }

        impl core::fmt::Debug for $name {
            fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
                write!(f, "{}(0x{})", stringify!($name), hex::encode(self.0))
            }
        }

        impl core::fmt::Display for $name {
            fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
                write!(f, "0x{}", hex::encode(self.0))
            }
        }
    };
}
